#include "serve_flags.h"

namespace dlcost::cli {

void AddServeOptions(CLI::App* cmd, api::ServeRequest* f, bool require_model_gpu) {
  auto* m = cmd->add_option("--model", f->model, "Zoo id, model JSON or Hugging Face config.json");
  auto* gp = cmd->add_option("--gpu", f->gpu, "GPU id or alias (dlcost gpus); for infer also 'any' or a comma-separated list: plan the cheapest setup for --qps");
  if (require_model_gpu) {
    m->required();
    gp->required();
  }
  cmd->add_option("--gpus", f->gpus, "GPUs in all (replicas x tp x pp x ep); default: one replica, or enough for --qps");
  cmd->add_option("--tp", f->tp, "Tensor-parallel size per replica")->capture_default_str();
  cmd->add_option("--pp", f->pp, "Pipeline-parallel size per replica")->capture_default_str();
  cmd->add_option("--ep", f->ep, "Expert-parallel size (MoE)")->capture_default_str();
  cmd->add_option("--input", f->input, "Prompt tokens per request")->capture_default_str();
  cmd->add_option("--output", f->output, "Generated tokens per request")->capture_default_str();
  cmd->add_option("--batch", f->batch, "Static batch (--mode static) or the engine's batch cap");
  cmd->add_option("--concurrency", f->concurrency, "Requests the clients keep in flight per replica, simulated as a closed loop; what the engine cannot hold queues (default: what fits, up to the engine cap)");
  cmd->add_option("--qps", f->qps, "Offered requests per second: GPUs needed, and p50/p90/p99 latency simulated at that load");
  cmd->add_option("--trace", f->trace, "Request trace to replay (CSV or JSONL: arrival_s, input_len, output_len)");
  cmd->add_flag("--skip-bad-rows", f->skip_bad_rows, "Count and skip bad trace rows instead of stopping");
  cmd->add_option("--sim-requests", f->sim_requests, "Requests simulated per replica for --qps or --concurrency")->capture_default_str();
  cmd->add_option("--seed", f->seed, "Seed of the simulated arrivals")->capture_default_str();
  cmd->add_option("--mode", f->mode, "continuous (in-flight batching), static (fixed batch) or single (one request at a time)")
      ->capture_default_str();
  cmd->add_option("--weights", f->weights, "Weight format: fp32 fp16 bf16 fp8 fp4 int8 int4 q4_0 q8_0 q4_k_m")->capture_default_str();
  cmd->add_option("--activations", f->activations, "Activation/GEMM format (default: fp8 for fp8 weights where supported, else 16-bit)");
  cmd->add_option("--kv-cache", f->kv_cache, "KV-cache format (default fp16)");
  cmd->add_option("--sparsity", f->sparsity, "2:4 for 2:4 structured weight sparsity (GPUs with sparse tensor cores)");
  cmd->add_option("--unstructured-sparsity", f->unstructured, "Share of zero weights, e.g. 0.5 (memory only unless --sparse-kernel)");
  cmd->add_option("--sparse-kernel", f->sparse_kernel, "Named sparse kernel for unstructured sparsity (e.g. flash-llm)");
  cmd->add_option("--spec-decode", f->spec, "Speculative decoding: draft=MODEL|eagle|medusa|ngram,k=4,accept=0.7");
  cmd->add_option("--ttft-ms", f->ttft_ms, "Time-to-first-token target (p50 as modelled)");
  cmd->add_option("--tpot-ms", f->tpot_ms, "Time-per-output-token target (p50 as modelled)");
  cmd->add_option("--engine", f->engine, "Serving engine profile: generic, vllm, tensorrt-llm, sglang, llama.cpp, ...");
  cmd->add_option("--moe-imbalance", f->moe_imbalance, "Busiest expert's tokens / mean (default 1: balanced routing)");
  cmd->add_flag("--dp-attention", f->dp_attention,
                "Data-parallel attention over the --tp GPUs (SGLang --enable-dp-attention): whole attention weights and "
                "each sequence's KV on one GPU");
  cmd->add_option("--steps", f->steps, "Denoising steps for diffusion models")->capture_default_str();
  cmd->add_flag("--no-cfg", f->no_cfg, "Diffusion without classifier-free guidance");
  cmd->add_option("--calibration", f->calibration, "Efficiency profile JSON (default: data/efficiency/default.json)");
}

}  // namespace dlcost::cli
