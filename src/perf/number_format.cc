// Number formats by name, with the bits their scales add and where those figures come from.
#include "dlcost/number_format.h"

#include <string>

#include <fmt/format.h>

#include "dlcost/strings.h"

namespace dlcost {

NumberFormat NumberFormatOf(Dtype d) {
  NumberFormat f;
  f.name = DtypeName(d);
  f.bits = DtypeBytes(d) * 8;
  f.compute = d;
  return f;
}

Result<NumberFormat> ParseNumberFormat(std::string_view text, std::string_view field) {
  std::string t = ToLower(std::string(TrimView(text)));
  NumberFormat f;
  f.name = t;
  if (t == "fp32" || t == "float32") {
    f = NumberFormatOf(Dtype::kFp32);
  } else if (t == "fp16" || t == "float16" || t == "f16") {
    f = NumberFormatOf(Dtype::kFp16);
  } else if (t == "bf16" || t == "bfloat16") {
    f = NumberFormatOf(Dtype::kBf16);
  } else if (t == "fp8" || t == "e4m3" || t == "float8") {
    f = NumberFormatOf(Dtype::kFp8);
  } else if (t == "int8") {
    f = NumberFormatOf(Dtype::kInt8);
  } else if (t == "fp4" || t == "nvfp4") {
    f = NumberFormatOf(Dtype::kFp4);
    f.name = "fp4";
    // NVFP4: 4-bit values with one fp8 scale per 16 elements = 4.5 bits (NVIDIA Blackwell
    // NVFP4 format description).
    f.bits = 4.5;
    f.source = "NVFP4: 4-bit E2M1 values + one FP8 E4M3 scale per 16-value block (NVIDIA, 'Introducing NVFP4')";
  } else if (t == "int4") {
    f.name = "int4";
    f.compute = Dtype::kInt4;
    f.block_quantized = true;
    // Group-wise int4 with one fp16 scale per 128 weights (GPTQ/AWQ default group size):
    // 4 + 16/128 bits.
    f.bits = 4.125;
    f.source = "int4 weights + one fp16 scale per group of 128 (AWQ, Lin et al. 2024; GPTQ, Frantar et al. 2023)";
  } else if (t == "q4_0") {
    f.compute = Dtype::kInt4;
    f.block_quantized = true;
    // ggml block_q4_0: 32 weights in 16 bytes + one fp16 scale = 18 bytes per 32 weights.
    f.bits = 4.5;
    f.source = "llama.cpp ggml block_q4_0: 18 bytes per 32 weights";
  } else if (t == "q8_0") {
    f.compute = Dtype::kInt8;
    f.block_quantized = true;
    // ggml block_q8_0: 32 int8 weights + one fp16 scale = 34 bytes per 32 weights.
    f.bits = 8.5;
    f.source = "llama.cpp ggml block_q8_0: 34 bytes per 32 weights";
  } else if (t == "q4_k_m") {
    f.compute = Dtype::kInt4;
    f.block_quantized = true;
    f.bits = 4.84;
    f.source = "llama.cpp tools/quantize/README.md, Llama 2 7B table: Q4_K_M = 4.84 bits per weight";
  } else {
    return InvalidInput(fmt::format("{}: unknown number format '{}' (fp32, fp16, bf16, fp8, fp4, int8, int4, q4_0, q8_0, q4_k_m)",
                                    field, std::string(text)));
  }
  if (t == "int8") {
    // int8 weights with per-channel scales: the scales are negligible (one per output row).
    f.source = "int8 with per-channel scales";
  }
  return f;
}

}  // namespace dlcost
