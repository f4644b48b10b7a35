#include "test_util.h"

using namespace mpq;
using Catch::Matchers::Contains;

TEST_CASE("tensor: factories, dtypes and element access", "[tensor]") {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i8, DType::u8}) {
    Tensor t = full({2, 3}, 7, dt);
    CHECK(t.dtype() == dt);
    CHECK(t.numel() == 6);
    CHECK(t.strides() == Strides{3, 1});
    CHECK(t.to_vector<double>() == std::vector<double>(6, 7.0));
    CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
  }
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(a.to(DType::i32).to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 2, 3, 4, 5, 6});
  CHECK(scalar_tensor(2.5).item() == 2.5);
  CHECK(scalar_tensor(2.5).dim() == 0);
  CHECK_THROWS_WITH(a.item(), Contains("one element") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(a.data<double>(), Contains("float64") && Contains("float32"));
  CHECK_THROWS_WITH(from_vector<float>({1, 2}, {3}), Contains("2 values for shape [3]"));
}

TEST_CASE("tensor: views share storage and have the right strides", "[tensor]") {
  Tensor a = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = a.t();
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Strides{1, 3});
  CHECK(!t.is_contiguous());
  CHECK(t.raw_data() == a.raw_data());
  CHECK(t.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});

  Tensor r = a.reshape({3, 2});
  CHECK(r.raw_data() == a.raw_data());  // contiguous: no copy
  CHECK(a.reshape({-1}).shape() == Shape{6});
  Tensor rt = t.reshape({6});  // non-contiguous: copies
  CHECK(rt.raw_data() != a.raw_data());
  CHECK(rt.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});

  Tensor n = a.narrow(1, 1, 2);
  CHECK(n.offset() == 1);
  CHECK(n.to_vector<float>() == std::vector<float>{1, 2, 4, 5});
  Tensor e = from_vector<float>({1, 2, 3}, {3}).expand({2, 3});
  CHECK(e.strides() == Strides{0, 1});
  CHECK(e.to_vector<float>() == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK(a.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(a.unsqueeze(0).squeeze(0).shape() == Shape{2, 3});
  CHECK(zeros({2, 3, 4, 5}).flatten(1).shape() == Shape{2, 60});
  CHECK(zeros({2, 3, 4}).permute({2, 0, 1}).shape() == Shape{4, 2, 3});

  // Writes through a view reach the base.
  n.fill_(9);
  CHECK(a.to_vector<float>() == std::vector<float>{0, 9, 9, 3, 9, 9});
  Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.to_vector<float>() == t.to_vector<float>());
}

TEST_CASE("tensor: shape errors name the op and the shapes", "[tensor]") {
  Tensor a = zeros({2, 3});
  CHECK_THROWS_WITH(a.reshape({4, 2}),
                    Contains("reshape") && Contains("[2, 3]") && Contains("[4, 2]"));
  CHECK_THROWS_WITH(a.narrow(1, 2, 2),
                    Contains("narrow") && Contains("[2, 4)") && Contains("size 3"));
  CHECK_THROWS_WITH(a.expand({2, 4}), Contains("expand") && Contains("[2, 4]"));
  CHECK_THROWS_WITH(a.permute({0, 0}), Contains("permute") && Contains("repeated"));
  CHECK_THROWS_WITH(a.squeeze(0), Contains("squeeze") && Contains("not 1"));
  CHECK_THROWS_WITH(add(a, zeros({4})), Contains("add") && Contains("[2, 3]") && Contains("[4]") &&
                                            Contains("cannot be broadcast"));
  CHECK_THROWS_WITH(a.size(2), Contains("axis 2") && Contains("2 dimensions"));
  CHECK_THROWS_WITH(empty({-1}), Contains("negative"));
  CHECK_THROWS_WITH(add(a, zeros({2, 3}, DType::f64)), Contains("dtypes differ"));
  CHECK_THROWS_WITH(zeros({2}, DType::i32).set_requires_grad(true), Contains("int32"));
}

TEST_CASE("tensor: device names", "[tensor]") {
  // CUDA tensors, and their refusal where no GPU is usable: test_cuda.cpp.
  CHECK(Device::cpu().str() == "cpu");
  CHECK(Device::cuda(1).str() == "cuda:1");
  CHECK(zeros({2}).to(Device::cpu()).device() == Device::cpu());
}

TEST_CASE("tensor: copy_ broadcasts and converts dtypes", "[tensor]") {
  Tensor d = zeros({2, 3}, DType::f64);
  d.copy_(from_vector<float>({1, 2, 3}, {3}));
  CHECK(d.to_vector<double>() == std::vector<double>{1, 2, 3, 1, 2, 3});
  Tensor u = from_vector<std::uint8_t>({0, 128, 255}, {3});
  CHECK(u.to(DType::f32).to_vector<float>() == std::vector<float>{0, 128, 255});
  Tensor i8 = from_vector<std::int8_t>({-128, 0, 127}, {3});
  CHECK(i8.to(DType::f64).to_vector<double>() == std::vector<double>{-128, 0, 127});
}

TEST_CASE("tensor: overlapping copies, hostile shapes, non-contiguous gradients", "[tensor]") {
  Tensor t = arange(5, DType::f32);
  t.narrow(0, 1, 4).copy_(t.narrow(0, 0, 4));  // shift right by one within one storage
  CHECK(t.to_vector<float>() == std::vector<float>{0, 0, 1, 2, 3});
  Tensor u = arange(5, DType::f32);
  u.narrow(0, 0, 4).copy_(u.narrow(0, 1, 4));
  CHECK(u.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 4});
  CHECK_THROWS_WITH(empty({1 << 30, 1 << 30, 1 << 30}), Contains("too large"));
  CHECK_THROWS_WITH(ones({1}).expand({-1}), Contains("negative"));
  // A stride-0 gradient is stored densely, so the optimizer can index it.
  Tensor p = zeros({2, 3});
  p.set_requires_grad(true);
  p.set_grad(ones({1}).expand({2, 3}));
  CHECK(p.grad().is_contiguous());
  CHECK(p.grad().to_vector<float>() == std::vector<float>(6, 1.0f));
  Tensor y = mul(p, 2.0);
  CHECK_THROWS_WITH(y.backward(ones({2, 3}, DType::f64)),
                    Contains("float64") && Contains("float32"));
}
