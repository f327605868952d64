"""Checks the deploy/ configs: the Kubernetes objects that deploy/k8s renders
to (from `kubectl kustomize` output, or, without kubectl, a minimal
kustomize done here: resources, namespace, commonLabels, images) and the
systemd units' restart policies.

usage: check_deploy.py K8S_DIR SYSTEMD_DIR SLURM_DIR [RENDERED.yaml]
"""
import configparser
import os
import sys

import yaml


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def render_here(k8s_dir):
    with open(os.path.join(k8s_dir, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    objs = []
    for res in kust["resources"]:
        with open(os.path.join(k8s_dir, res)) as f:
            objs += [d for d in yaml.safe_load_all(f) if d]
    images = {i["name"]: i for i in kust.get("images", [])}
    for o in objs:
        if o["kind"] != "Namespace":
            o["metadata"]["namespace"] = kust["namespace"]
        o["metadata"].setdefault("labels", {}).update(kust.get("commonLabels", {}))
        pod = o.get("spec", {}).get("template", {}).get("spec", {})
        for c in pod.get("containers", []):
            i = images.get(c["image"].split(":")[0])
            if i:
                c["image"] = i["newName"] + ":" + i["newTag"]
    return objs


def check_k8s(objs):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    for kind in ["Namespace", "ConfigMap", "Secret", "Service", "StatefulSet", "Deployment"]:
        if kind not in by_kind:
            fail("no %s rendered" % kind)
    for o in objs:
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != "peftsearch":
            fail("%s/%s not in namespace peftsearch" % (o["kind"], o["metadata"]["name"]))
    configmaps = {o["metadata"]["name"]: o for o in by_kind["ConfigMap"]}
    secrets = {o["metadata"]["name"]: o for o in by_kind["Secret"]}

    def secret_keys(name):
        s = secrets.get(name) or fail("missing Secret " + name)
        return set(s.get("stringData", {})) | set(s.get("data", {}))

    def check_pod(owner, pod):
        for c in pod["containers"]:
            if not c["image"].startswith("registry.example.org/peftsearch:"):
                fail("%s: image not rewritten: %s" % (owner, c["image"]))
            for ef in c.get("envFrom", []):
                if ef["configMapRef"]["name"] not in configmaps:
                    fail("%s: unknown ConfigMap %s" % (owner, ef["configMapRef"]["name"]))
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["key"] not in secret_keys(ref["name"]):
                    fail("%s: Secret %s has no key %s" % (owner, ref["name"], ref["key"]))
        for v in pod.get("volumes", []):
            if "secret" in v:
                keys = secret_keys(v["secret"]["secretName"])
                for item in v["secret"].get("items", []):
                    if item["key"] not in keys:
                        fail("%s: volume %s wants missing key %s" % (owner, v["name"], item["key"]))

    (sts,) = by_kind["StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    check_pod("StatefulSet", pod)
    if sts["spec"]["replicas"] != 1:
        fail("controller replicas must be 1 (one SQLite file)")
    claims = {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates", [])}
    if not claims:
        fail("controller has no PersistentVolumeClaim template")
    (ctl,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in ctl["volumeMounts"]}
    data_mount = [mounts[c] for c in claims if c in mounts]
    if not data_mount:
        fail("the PVC is not mounted in the controller")
    cm = configmaps["peftsearch-config"]["data"]
    if not cm["CONTROLLER_DB"].startswith(data_mount[0] + "/"):
        fail("database %s is not on the PVC (%s)" % (cm["CONTROLLER_DB"], data_mount[0]))
    args = " ".join(ctl["args"])
    for flag in ["--tls-cert", "--tls-key", "--tls-client-ca", "--require-auth", "--db"]:
        if flag not in args:
            fail("controller args lack " + flag)
    if "--insecure" in args:
        fail("controller runs --insecure")
    ports = {p["name"]: p["containerPort"] for p in ctl["ports"]}

    (svc,) = by_kind["Service"]
    sel = svc["spec"]["selector"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in sel.items()):
        fail("Service selector %s does not match the controller pods %s" % (sel, labels))
    for p in svc["spec"]["ports"]:
        if p["targetPort"] not in ports and p["targetPort"] not in ports.values():
            fail("Service targetPort %s is no controller port" % p["targetPort"])
    host = cm["PEFTSEARCH_CONTROLLER"].split(":")[0]
    if host != svc["metadata"]["name"]:
        fail("workers dial %s, the Service is %s" % (host, svc["metadata"]["name"]))

    (dep,) = by_kind["Deployment"]
    wpod = dep["spec"]["template"]["spec"]
    check_pod("Deployment", wpod)
    (wc,) = wpod["containers"]
    if str(wc["resources"]["limits"].get("nvidia.com/gpu")) != "1":
        fail("worker does not request one nvidia.com/gpu")
    wargs = " ".join(wc["args"])
    for flag in ["--tls-ca", "--tls-cert", "--tls-key"]:
        if flag not in wargs:
            fail("worker args lack " + flag)
    if "--token" in wargs:
        fail("worker token on the command line")
    if not any(e["name"] == "PEFTSEARCH_TOKEN" for e in wc.get("env", [])):
        fail("worker has no PEFTSEARCH_TOKEN from the Secret")
    print("k8s: %d objects ok: %s" % (len(objs), ", ".join(sorted(by_kind))))


def check_units(systemd_dir, slurm_dir):
    units = [os.path.join(systemd_dir, f) for f in sorted(os.listdir(systemd_dir))
             if f.endswith(".service")]
    units += [os.path.join(slurm_dir, f) for f in sorted(os.listdir(slurm_dir))
              if f.endswith(".service")]
    if len(units) < 3:
        fail("want controller and worker units and the Slurm login-node unit, got %s" % units)
    for path in units:
        p = configparser.ConfigParser(strict=False, interpolation=None)
        with open(path) as f:
            p.read_file(f)
        for section in ["Unit", "Service", "Install"]:
            if section not in p:
                fail("%s: no [%s]" % (path, section))
        svc = p["Service"]
        if svc.get("Restart") not in ("always", "on-failure"):
            fail("%s: Restart=%s" % (path, svc.get("Restart")))
        if "RestartSec" not in svc or not svc.get("ExecStart", "").strip():
            fail("%s: no RestartSec or ExecStart" % path)
        exec_start = svc["ExecStart"]
        if "--insecure" in exec_start or "--token" in exec_start:
            fail("%s: --insecure or a token on the command line" % path)
        if "controller" in os.path.basename(path) and "--tls-cert" not in exec_start:
            fail("%s: controller without TLS" % path)
    print("systemd: %d units ok" % len(units))


def main():
    k8s_dir, systemd_dir, slurm_dir = sys.argv[1:4]
    if len(sys.argv) > 4:
        with open(sys.argv[4]) as f:
            objs = [d for d in yaml.safe_load_all(f) if d]
        print("k8s: checking `kubectl kustomize` output")
    else:
        objs = render_here(k8s_dir)
        print("k8s: kubectl not available; checking a kustomize rendering done in Python")
    check_k8s(objs)
    check_units(systemd_dir, slurm_dir)


if __name__ == "__main__":
    main()
