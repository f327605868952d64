#include "controller/param_codec.h"

#include <cmath>

namespace peftsearch::controller {

tpe::SearchSpace ToSearchSpace(const std::vector<ParamDef>& space) {
  tpe::SearchSpace out;
  for (const ParamDef& p : space) {
    tpe::ParamSpec spec;
    spec.name = p.name;
    switch (p.type) {
      case ParamDef::Type::kFloat:
        spec.distribution.kind = tpe::DistributionKind::kFloat;
        break;
      case ParamDef::Type::kInt:
        spec.distribution.kind = tpe::DistributionKind::kInt;
        break;
      case ParamDef::Type::kCategorical:
        spec.distribution.kind = tpe::DistributionKind::kCategorical;
        spec.distribution.num_choices = static_cast<int>(p.choices.size());
        break;
    }
    spec.distribution.low = p.low;
    spec.distribution.high = p.high;
    spec.distribution.log = p.log;
    spec.distribution.step = p.step;
    if (p.condition) {
      tpe::Condition c;
      c.parent = p.condition->parent;
      const ParamDef* parent = nullptr;
      for (const ParamDef& q : space) {
        if (q.name == p.condition->parent) parent = &q;
      }
      for (const Json& v : p.condition->values) {
        if (parent != nullptr && parent->type == ParamDef::Type::kCategorical) {
          for (size_t i = 0; i < parent->choices.size(); ++i) {
            if (parent->choices[i] == v) c.parent_values.push_back(static_cast<double>(i));
          }
        } else if (v.is_number()) {
          c.parent_values.push_back(v.get<double>());
        }
      }
      spec.condition = std::move(c);
    }
    out.params.push_back(std::move(spec));
  }
  return out;
}

Json EncodeParams(const std::vector<ParamDef>& space, const tpe::ParamValues& values) {
  Json out = Json::object();
  for (const ParamDef& p : space) {
    auto it = values.find(p.name);
    if (it == values.end()) continue;
    switch (p.type) {
      case ParamDef::Type::kFloat:
        out[p.name] = it->second;
        break;
      case ParamDef::Type::kInt:
        out[p.name] = static_cast<int64_t>(std::llround(it->second));
        break;
      case ParamDef::Type::kCategorical: {
        const auto index = static_cast<size_t>(std::llround(it->second));
        if (index < p.choices.size()) out[p.name] = p.choices[index];
        break;
      }
    }
  }
  return out;
}

tpe::ParamValues DecodeParams(const std::vector<ParamDef>& space, const Json& params) {
  tpe::ParamValues out;
  if (!params.is_object()) return out;
  for (const ParamDef& p : space) {
    auto it = params.find(p.name);
    if (it == params.end()) continue;
    if (p.type == ParamDef::Type::kCategorical) {
      for (size_t i = 0; i < p.choices.size(); ++i) {
        if (p.choices[i] == *it) out[p.name] = static_cast<double>(i);
      }
    } else if (it->is_number()) {
      out[p.name] = it->get<double>();
    }
  }
  return out;
}

}  // namespace peftsearch::controller
