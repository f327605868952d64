"""A small client over the generated StudyService stub: plain dicts in and out.

Thread safety: a Client wraps one gRPC channel, which is thread-safe; the
watch() generator belongs to the thread iterating it.
"""
import json
import os

import grpc

from . import peftsearch_pb2 as pb
from . import peftsearch_pb2_grpc as pb_grpc

__all__ = ["Client", "Error"]

_TRIAL_STATES = {"waiting": pb.WAITING, "running": pb.RUNNING, "complete": pb.COMPLETE,
                 "pruned": pb.PRUNED, "failed": pb.FAILED}


class Error(Exception):
    """An RPC failed. `code` is the grpc.StatusCode, `details` the server's message
    (for a rejected spec it names the field, e.g. "space.lr.low: ...")."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code.name if code else "UNKNOWN", details))
        self.code = code
        self.details = details


def _json_or_none(text):
    return json.loads(text) if text else None


def _trial_state_name(value):
    return pb.TrialState.Name(value)


def _study_state_name(value):
    name = pb.StudyState.Name(value)
    return name[len("STUDY_"):] if name.startswith("STUDY_") else name


def study_to_dict(s):
    return {
        "id": s.id, "name": s.name, "state": _study_state_name(s.state),
        "direction": s.direction, "strategy": s.strategy, "phase": s.phase,
        "max_trials": s.max_trials, "parallelism": s.parallelism,
        "counts": {"waiting": s.counts.waiting, "running": s.counts.running,
                   "complete": s.counts.complete, "pruned": s.counts.pruned,
                   "failed": s.counts.failed},
        "best_value": s.best_value if s.has_best else None,
        "best_trial_number": s.best_trial_number if s.has_best else None,
        "spec": _json_or_none(s.spec_json), "summary": _json_or_none(s.summary_json),
        "created_unix_ms": s.created_unix_ms, "updated_unix_ms": s.updated_unix_ms,
    }


def trial_to_dict(t):
    return {
        "study_id": t.study_id, "number": t.number, "state": _trial_state_name(t.state),
        "phase": t.phase, "params": _json_or_none(t.params_json) or {},
        "value": t.value if t.has_value else None, "result": _json_or_none(t.result_json),
        "attempt": t.attempt, "worker_id": t.worker_id, "message": t.message,
        "intermediate_values": [(iv.step, iv.value) for iv in t.intermediate_values],
        "created_unix_ms": t.created_unix_ms, "started_unix_ms": t.started_unix_ms,
        "finished_unix_ms": t.finished_unix_ms,
    }


def worker_to_dict(w):
    return {"id": w.id, "name": w.name, "hostname": w.hostname, "slots": w.slots,
            "alive": w.alive, "running_trials": w.running_trials,
            "registered_unix_ms": w.registered_unix_ms,
            "last_heartbeat_unix_ms": w.last_heartbeat_unix_ms}


def event_to_dict(e):
    return {"seq": e.seq, "study_id": e.study_id,
            "trial_number": e.trial_number if e.trial_number >= 0 else None,
            "kind": e.kind, "trial_state": _trial_state_name(e.trial_state),
            "value": e.value if e.has_value else None, "unix_ms": e.unix_ms,
            "study": study_to_dict(e.study)}


def _state_enum(state):
    if state is None:
        return pb.TRIAL_STATE_UNSPECIFIED
    try:
        return _TRIAL_STATES[str(state).lower()]
    except KeyError:
        raise ValueError("state: one of %s, got %r" % (", ".join(_TRIAL_STATES), state))


class Client:
    """Talks to one controller.

    address: "host:port"; default $PEFTSEARCH_CONTROLLER, else "localhost:50051".
    token: bearer token sent with every call; default $PEFTSEARCH_TOKEN.
    root_certificates: PEM bytes or a path; given, the channel uses TLS.
    timeout: seconds per unary call.
    """

    def __init__(self, address=None, token=None, root_certificates=None, timeout=30.0):
        self.address = address or os.environ.get("PEFTSEARCH_CONTROLLER") or "localhost:50051"
        token = token if token is not None else os.environ.get("PEFTSEARCH_TOKEN")
        self._metadata = (("authorization", "Bearer " + token),) if token else None
        self._timeout = timeout
        options = [("grpc.max_receive_message_length", 64 << 20)]
        if root_certificates is not None:
            if isinstance(root_certificates, str) and os.path.exists(root_certificates):
                with open(root_certificates, "rb") as f:
                    root_certificates = f.read()
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(self.address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        self._stub = pb_grpc.StudyServiceStub(self._channel)

    # ------------------------------------------------------------- plumbing
    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, timeout=None):
        try:
            return getattr(self._stub, method)(
                request, timeout=timeout or self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise Error(e.code(), e.details()) from None

    # ---------------------------------------------------------------- studies
    def submit(self, spec):
        """Creates a study from a dict, a JSON string, or a path to a JSON file.
        Returns the study dict. A bad spec raises Error(INVALID_ARGUMENT) naming
        the field, and nothing is stored."""
        if isinstance(spec, dict):
            text = json.dumps(spec)
        elif isinstance(spec, (str, os.PathLike)) and os.path.exists(spec):
            with open(spec) as f:
                text = f.read()
        elif isinstance(spec, str):
            text = spec
        else:
            raise TypeError("spec: a dict, a JSON string or a path")
        return study_to_dict(self._call("CreateStudy", pb.CreateStudyRequest(spec_json=text)))

    def studies(self):
        """Every study, newest first."""
        reply = self._call("ListStudies", pb.ListStudiesRequest())
        return [study_to_dict(s) for s in reply.studies]

    def study(self, name):
        """One study by name or id."""
        return study_to_dict(self._call("GetStudy", pb.GetStudyRequest(study=str(name))))

    def cancel(self, name):
        return study_to_dict(self._call("CancelStudy", pb.CancelStudyRequest(study=str(name))))

    # ----------------------------------------------------------------- trials
    def trials(self, name, state=None, include_intermediate=False, as_frame=None):
        """The study's trials by number (all pages), optionally of one state
        ("complete", "pruned", ...). A pandas DataFrame (params expanded to
        "params.<name>" columns) when pandas is importable and as_frame is not
        False; otherwise a list of dicts."""
        out, token = [], ""
        while True:
            reply = self._call("ListTrials", pb.ListTrialsRequest(
                study=str(name), state=_state_enum(state), page_size=1000, page_token=token,
                include_intermediate=include_intermediate))
            out.extend(trial_to_dict(t) for t in reply.trials)
            token = reply.next_page_token
            if not token:
                break
        if as_frame is False:
            return out
        try:
            import pandas
        except ImportError:
            if as_frame:
                raise
            return out
        frame = pandas.json_normalize(out, max_level=1) if out else pandas.DataFrame(out)
        return frame

    def trial(self, name, number):
        return trial_to_dict(self._call("GetTrial", pb.GetTrialRequest(study=str(name),
                                                                        number=number)))

    def best(self, name, k=1):
        """The k best complete trials, best first."""
        reply = self._call("BestTrials", pb.BestTrialsRequest(study=str(name), count=k))
        return [trial_to_dict(t) for t in reply.trials]

    def watch(self, name, after_seq=0, timeout=None):
        """Yields the study's events (dicts with "kind", "trial_number",
        "value" and the study after the event) from after_seq on, until the
        study ends (or `timeout` seconds pass)."""
        try:
            stream = self._stub.WatchStudy(pb.WatchStudyRequest(study=str(name),
                                                                after_seq=after_seq),
                                           timeout=timeout, metadata=self._metadata)
            for event in stream:
                yield event_to_dict(event)
        except grpc.RpcError as e:
            raise Error(e.code(), e.details()) from None

    # --------------------------------------------------------------- ask/tell
    def ask(self, name):
        """For "external" objectives: a new trial. Returns (number, params)."""
        t = self._call("AskTrial", pb.AskTrialRequest(study=str(name)))
        return t.number, _json_or_none(t.params_json) or {}

    def tell(self, name, number, value=None, state="complete", result=None):
        """Finishes an asked trial; telling the same result twice is harmless.
        `result`: a dict stored as the trial's result (e.g. per-task values).
        Returns the trial dict."""
        request = pb.TellTrialRequest(study=str(name), number=number, state=_state_enum(state))
        if value is not None:
            request.has_value = True
            request.value = float(value)
        if result is not None:
            request.result_json = json.dumps(result)
        return trial_to_dict(self._call("TellTrial", request))

    # ---------------------------------------------------------------- workers
    def workers(self):
        """Registered workers, alive or not."""
        return [worker_to_dict(w) for w in self._call("ListWorkers", pb.ListWorkersRequest()).workers]
