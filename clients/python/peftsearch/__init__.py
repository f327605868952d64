"""Python client of the peftsearch controller (StudyService over gRPC).

    from peftsearch import Client
    with Client("127.0.0.1:50051") as c:
        study = c.submit("examples/branin.json")
        for event in c.watch(study["name"]):
            print(event["kind"], event["study"]["counts"])
        print(c.best(study["name"], k=3))

Needs Debian's python3-grpcio and python3-protobuf; pandas is optional
(trials() returns a DataFrame when it is importable).
"""
from .client import Client, Error

__all__ = ["Client", "Error"]
