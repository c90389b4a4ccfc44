// SHA-256 (FIPS 180-4) through OpenSSL's EVP digest interface (Debian's libssl-dev), which uses
// the CPU's SHA extensions where there are any.
#include <openssl/evp.h>

#include <cstdio>
#include <stdexcept>

#include "dlcost/audit.h"

namespace dlcost::audit {

namespace {
EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Only allocation can fail here; a hash that silently did nothing would be worse than a throw.
  if (ctx_ == nullptr || EVP_DigestInit_ex(Ctx(ctx_), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(Ctx(ctx_));
    throw std::runtime_error("OpenSSL could not start a SHA-256 digest");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(Ctx(ctx_)); }

void Sha256::Update(const void* data, size_t n) {
  if (n > 0) EVP_DigestUpdate(Ctx(ctx_), data, n);
}

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(Ctx(ctx_), md, &len);
  std::string out(2 * len, '0');
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 s;
  s.Update(data.data(), data.size());
  return s.HexDigest();
}

}  // namespace dlcost::audit
