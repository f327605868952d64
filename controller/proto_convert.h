// Engine records and views -> API protos.
#ifndef PEFTSEARCH_CONTROLLER_PROTO_CONVERT_H_
#define PEFTSEARCH_CONTROLLER_PROTO_CONVERT_H_

#include "controller/study_engine.h"
#include "proto/peftsearch.pb.h"

namespace peftsearch::controller {

void ToProto(const StudyView& view, v1::Study* out);
void ToProto(const storage::TrialRecord& trial, v1::Trial* out);
void ToProto(const WorkerView& worker, v1::Worker* out);
void ToProto(const storage::EventRecord& event, v1::StudyEvent* out);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_PROTO_CONVERT_H_
