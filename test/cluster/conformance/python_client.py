"""The conformance suite's python-kubernetes driver (Debian's python3-kubernetes, the client python users bring).

Usage: python3 python_client.py <kubeconfig> <check> <namespace> [args...]
Prints one JSON object on stdout: what the check saw, in the shape every driver of the suite reports (see
clients.ts). An API error is reported as {"error": {"status": <code>, "reason": ..., "message": ...}}, never a crash.
"""

import json
import sys
import threading

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def api_error(err):
    try:
        body = json.loads(err.body)
    except (TypeError, ValueError):
        body = {}
    return {"error": {"status": err.status, "reason": body.get("reason"), "message": body.get("message")}}


def check_version(_ns, _args):
    info = client.VersionApi().get_code()
    return {"gitVersion": info.git_version, "platform": info.platform, "gitCommit": info.git_commit}


def check_watch(ns, args):
    """Watches configmaps (watch=True on the wire), creates one, reports the first event."""
    core = client.CoreV1Api()
    name = args[0]

    def create():
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": "v"})
        )

    # The first event must come from the watch itself: start the create once the stream is open.
    w = watch.Watch()
    timer = threading.Timer(0.5, create)
    timer.start()
    try:
        for event in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=10, allow_watch_bookmarks=True):
            if event["type"] == "BOOKMARK":
                continue
            w.stop()
            return {"type": event["type"], "name": event["object"].metadata.name}
    finally:
        timer.join()
    return {"type": None}


def check_paged_list(ns, args):
    core = client.CoreV1Api()
    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(ns, limit=int(args[0]), _continue=token)
        pages += 1
        names += [item.metadata.name for item in page.items]
        token = page.metadata._continue
        if not token:
            return {"names": names, "pages": pages}


def check_continue_with_rv(ns, _args):
    core = client.CoreV1Api()
    first = core.list_namespaced_config_map(ns, limit=1)
    try:
        core.list_namespaced_config_map(
            ns, limit=1, _continue=first.metadata._continue, resource_version=first.metadata.resource_version
        )
    except ApiException as err:
        return api_error(err)
    return {"error": None}


def check_list_exact(ns, args):
    core = client.CoreV1Api()
    try:
        page = core.list_namespaced_config_map(ns, resource_version=args[0], resource_version_match="Exact")
    except ApiException as err:
        return api_error(err)
    return {"names": [item.metadata.name for item in page.items], "resourceVersion": page.metadata.resource_version}


def check_apply(ns, args):
    """Server-side apply of data.k=<value> as <manager>, forced when asked (python sends force=True on the wire).

    python-kubernetes 22's REST layer cannot encode a dict as application/apply-patch+yaml (its dynamic client's
    server_side_apply fails before sending), so the applied configuration goes as a JSON string, which is YAML.
    """
    manager, value, force = args[0], args[1], args[2] == "force"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": ns}, "data": {"k": value}}
    query = [("fieldManager", manager)] + ([("force", True)] if force else [])
    try:
        out = client.ApiClient().call_api(
            f"/api/v1/namespaces/{ns}/configmaps/applied",
            "PATCH",
            query_params=query,
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            body=json.dumps(body),
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
    except ApiException as err:
        return api_error(err)
    managers = sorted(entry["manager"] for entry in out["metadata"].get("managedFields", []))
    return {"data": out["data"], "managers": managers}


def check_delete_pod(ns, args):
    core = client.CoreV1Api()
    try:
        out = core.delete_namespaced_pod(args[0], ns)
    except ApiException as err:
        return api_error(err)
    meta = out.metadata
    return {"deletionTimestamp": meta.deletion_timestamp is not None, "grace": meta.deletion_grace_period_seconds}


def check_claim_status(ns, args):
    """Writes a claim's status from a JSON file (python-kubernetes 22 predates resource.k8s.io/v1: a raw call)."""
    with open(args[1], encoding="utf-8") as f:
        status = json.load(f)
    api = client.ApiClient()
    path = f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims/{args[0]}/status"
    try:
        api.call_api(
            path,
            "PATCH",
            header_params={"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
            body={"status": status},
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
    except ApiException as err:
        return api_error(err)
    return {"error": None}


CHECKS = {
    "version": check_version,
    "watch": check_watch,
    "paged-list": check_paged_list,
    "continue-with-rv": check_continue_with_rv,
    "list-exact": check_list_exact,
    "apply": check_apply,
    "delete-pod": check_delete_pod,
    "claim-status": check_claim_status,
}


def main():
    kubeconfig, check, ns, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    config.load_kube_config(config_file=kubeconfig)
    print(json.dumps(CHECKS[check](ns, args)))


if __name__ == "__main__":
    main()
