// PeftProvider over the PEFT registry of worker/peft (peft.h): the 20
// MambaPEFT methods, "linear_probing" and "full".
//
// Thread safety: stateless; see PeftProvider.
#ifndef PEFTSEARCH_WORKER_TRAIN_PEFT_REGISTRY_PROVIDER_H_
#define PEFTSEARCH_WORKER_TRAIN_PEFT_REGISTRY_PROVIDER_H_

#include <memory>

#include "worker/train/task_peft.h"

namespace peftsearch::train {

std::unique_ptr<PeftProvider> NewPeftRegistryProvider();

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_PEFT_REGISTRY_PROVIDER_H_
