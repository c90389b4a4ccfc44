// Number formats: how a tensor (weights, activations, KV cache) is stored, with the bits per
// element its block scales add and the tensor-core type it computes in.
//
//   DLCOST_ASSIGN_OR_RETURN(NumberFormat w, ParseNumberFormat("q4_k_m", "--weights"));
//   w.bits             // 4.84 bits per weight, scales included (w.source says where from)
//   w.block_quantized  // true: dequantized inside the GEMM
#pragma once

#include <string>
#include <string_view>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

// How a tensor is stored: a float or integer type, or a llama.cpp block format.
struct NumberFormat {
  std::string name = "fp16";
  double bits = 16;              // storage bits per element, block scales included
  Dtype compute = Dtype::kFp16;  // tensor-core type the format computes in when it is the activation type
  bool block_quantized = false;  // int4/int8 weight-only and GGUF blocks: dequantized inside the GEMM
  std::string source;            // where `bits` comes from, for formats with scales
};

// fp32, fp16, bf16, fp8, fp4, int8, int4 (group 128), q4_0, q8_0, q4_k_m. `field` names the flag.
Result<NumberFormat> ParseNumberFormat(std::string_view text, std::string_view field);

// The plain format of tensor-core type `d`: its name, its storage bits, no scales.
NumberFormat NumberFormatOf(Dtype d);

}  // namespace dlcost
