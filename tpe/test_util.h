// Helpers shared by tpe/ tests: short constructors for parameters.
#ifndef PEFTSEARCH_TPE_TEST_UTIL_H_
#define PEFTSEARCH_TPE_TEST_UTIL_H_

#include <string>
#include <vector>

#include "tpe/search_space.h"

namespace peftsearch {
namespace tpe {
namespace testing {

inline ParamSpec Float(std::string name, double low, double high, bool log = false,
                       double step = 0) {
  ParamSpec p;
  p.name = std::move(name);
  p.distribution.kind = DistributionKind::kFloat;
  p.distribution.low = low;
  p.distribution.high = high;
  p.distribution.log = log;
  p.distribution.step = step;
  return p;
}

inline ParamSpec Int(std::string name, double low, double high, bool log = false,
                     double step = 0) {
  ParamSpec p = Float(std::move(name), low, high, log, step);
  p.distribution.kind = DistributionKind::kInt;
  return p;
}

inline ParamSpec Cat(std::string name, int n) {
  ParamSpec p;
  p.name = std::move(name);
  p.distribution.kind = DistributionKind::kCategorical;
  p.distribution.num_choices = n;
  return p;
}

inline ParamSpec When(ParamSpec p, std::string parent, std::vector<double> values) {
  p.condition = Condition{std::move(parent), std::move(values)};
  return p;
}

}  // namespace testing
}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_TEST_UTIL_H_
