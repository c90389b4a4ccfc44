// Training with the libtorch model of torch_model.h: the AdamW step, the timed training step,
// device synchronisation and the median timer of the microbenchmarks.
#include <algorithm>
#include <chrono>

#include "measure/torch_model.h"

namespace dlcost::measure {

void Sync(const torch::Device& device) {
  if (!device.is_cuda()) return;
#if TORCH_VERSION_MAJOR >= 2
  torch::cuda::synchronize();
#else
  torch::zeros({1}, torch::TensorOptions().device(device)).cpu();  // waits for the stream
#endif
}

double TimeMedian(const std::function<void()>& fn, int min_reps, double target_s, int max_reps) {
  using Clock = std::chrono::steady_clock;
  fn();
  std::vector<double> t;
  double total = 0;
  while (static_cast<int>(t.size()) < max_reps && (static_cast<int>(t.size()) < min_reps || total < target_s)) {
    auto t0 = Clock::now();
    fn();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    t.push_back(s);
    total += s;
  }
  std::sort(t.begin(), t.end());
  size_t n = t.size();
  return n % 2 == 1 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

AdamWStep::AdamWStep(std::vector<torch::Tensor> params) : params_(std::move(params)) {
  mixed_ = !params_.empty() && params_.front().scalar_type() != torch::kFloat;
  std::vector<torch::Tensor> opt_params = params_;
  if (mixed_) {
    for (const torch::Tensor& p : params_) master_.push_back(p.detach().to(torch::kFloat).requires_grad_(true));
    opt_params = master_;
  }
  // AdamW hyper-parameters of the Llama papers (Touvron et al. 2023, Sec. 2.2); they do not
  // change the work per step.
  opt_ = std::make_unique<torch::optim::AdamW>(
      opt_params, torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95}).weight_decay(0.1));
}

void AdamWStep::Run() {
  if (mixed_) {
    for (size_t i = 0; i < params_.size(); ++i) master_[i].mutable_grad() = params_[i].grad().to(torch::kFloat);
  }
  opt_->step();
  if (mixed_) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(master_[i]);
  }
}

Trainer::Trainer(TorchModel* model, int64_t batch, int64_t seq) : model_(model), opt_(model->params()) {
  auto ids = torch::TensorOptions().dtype(torch::kLong).device(model_->params().front().device());
  tokens_ = torch::randint(0, model_->spec().vocab, {batch, seq}, ids);
  targets_ = torch::randint(0, model_->spec().vocab, {batch, seq}, ids);
}

double Trainer::Step() {
  for (torch::Tensor& p : model_->params()) p.mutable_grad() = torch::Tensor();
  torch::Tensor loss = model_->Loss(tokens_, targets_);
  loss.backward();
  opt_.Run();
  double value = loss.item<double>();
  Sync(tokens_.device());
  return value;
}

}  // namespace dlcost::measure
