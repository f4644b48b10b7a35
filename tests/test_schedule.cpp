#include "test_util.h"

#include "train/schedule.h"

using namespace mpq;
using Catch::Matchers::Contains;

TEST_CASE("schedules: hand-computed learning rates", "[schedule]") {
  // The paper: 0.1, divided by 10 after epochs 80 and 120.
  const auto paper = train::Schedule::parse("multistep:80,120", 0.1, 160);
  CHECK(paper.at(0) == Approx(0.1));
  CHECK(paper.at(79.9) == Approx(0.1));
  CHECK(paper.at(80) == Approx(0.01));
  CHECK(paper.at(130) == Approx(0.001));
  const auto step = train::Schedule::parse("step:30", 1.0, 100, 0.5);
  CHECK(step.at(29) == 1.0);
  CHECK(step.at(30) == 0.5);
  CHECK(step.at(95) == 0.125);
  const auto cos = train::Schedule::parse("cosine", 0.2, 10);
  CHECK(cos.at(0) == Approx(0.2));
  CHECK(cos.at(5) == Approx(0.1));
  CHECK(cos.at(10) == Approx(0.0).margin(1e-15));
  auto warm = train::Schedule::parse("constant", 0.4, 10);
  warm.warmup = 2;
  CHECK(warm.at(0.5) == Approx(0.1));
  CHECK(warm.at(3) == Approx(0.4));
  CHECK_THROWS_WITH(train::Schedule::parse("linear", 0.1, 10),
                    Contains("unknown schedule 'linear'"));
  CHECK_THROWS_WITH(train::Schedule::parse("multistep:80,x", 0.1, 10), Contains("'x'"));
}
