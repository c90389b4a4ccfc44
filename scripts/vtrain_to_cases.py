#!/usr/bin/env python3
"""Converts vTrain's measured single-node step times (validation/measured/vtrain/, MIT,
Bang et al. MICRO 2024) into the training-cases schema of validation/published/README.md, so
`dlcost validate training` can score them and scripts/fit_default_efficiency.sh can derive the
catalog-default GEMM efficiency from them.

Stated assumptions for the fields vTrain's file does not give: GPT-style model (GELU MLP of
4 x hidden, learned positions), vocabulary 51200 (Megatron-LM's padded GPT-2 vocabulary),
A100-SXM GPUs, fp16, 8 GPUs per node. vTrain's validation configurations
(config/validation/single/*.json at the same commit) set "use_checkpoint": true, so recompute is
full; they also set "use_gradient_bucket": false (no overlap of the data-parallel gradient
reduction), which the cases schema cannot express. ZeRO and sequence parallelism are left
empty so the tool chooses them."""
import csv
import sys

src, dst = sys.argv[1], sys.argv[2]
cols = ("case_id,source,model,arch,params_b,layers,hidden,heads,kv_heads,ffn,ffn_act,vocab,seq_len,experts,top_k,"
        "gpu,num_gpus,gpus_per_node,internode_gbps,tp,pp,dp,ep,cp,vpp,micro_batch,global_batch,zero,seq_parallel,"
        "recompute,precision,tokens,metric,value,note").split(",")
with open(src, encoding="utf-8-sig") as f, open(dst, "w", newline="") as out:
    w = csv.DictWriter(out, fieldnames=cols)
    w.writeheader()
    for i, r in enumerate(csv.DictReader(f)):
        h = int(r["hidden size"])
        w.writerow({
            "case_id": f"V{i:04d}", "source": "vTrain ground_truth_single.csv (Bang et al. MICRO 2024)",
            "model": f"gpt-h{h}-l{r['# layers']}", "arch": "dense", "params_b": "",
            "layers": r["# layers"], "hidden": h, "heads": r["attention heads"], "kv_heads": r["attention heads"],
            "ffn": 4 * h, "ffn_act": "gelu", "vocab": 51200, "seq_len": r["sequence length"],
            "gpu": "a100-sxm-80gb", "num_gpus": r["# GPUs"], "gpus_per_node": 8, "internode_gbps": "",
            "tp": r["tensor parallelism"], "pp": r["pipeline parallelism"], "dp": r["data parallelism"],
            "ep": 1, "cp": 1, "vpp": 1, "micro_batch": r["micro batch"], "global_batch": r["global batch"],
            "precision": "fp16", "recompute": "full", "metric": "sec_per_iter", "value": float(r["iteration time (ms)"]) / 1000.0,
            "note": "assumed: vocab 51200, ffn 4h, gelu, a100-sxm, fp16; full recompute per vTrain config",
        })
