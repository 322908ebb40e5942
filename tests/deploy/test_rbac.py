"""The Dagster Role covers every Kubernetes API call the installed dagster-k8s makes.

The calls are read from dagster-k8s' own source (the Kubernetes client calls of
DagsterKubernetesClient in dagster_k8s/client.py, which the K8sRunLauncher uses to launch runs,
to monitor them and, on terminate, to delete the run's Job and then each of its pods), and each
call is turned into the verb and resource it needs from the Kubernetes client's own request path
and HTTP method. A new call in a dagster-k8s upgrade shows up here, not as a 403 in production.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from tests.deploy.manifests import RELEASE, Rendered

# dagster_k8s/client.py: `self.batch_api = kubernetes.client.BatchV1Api(...)` and
# `self.core_api = kubernetes.client.CoreV1Api(...)` (checked below against the source).
CLIENT_ATTRIBUTES = {"batch_api": "BatchV1Api", "core_api": "CoreV1Api"}
# The modules the webserver and the daemon run for the launcher (pipes and ops are not used).
LAUNCHER_MODULES = ("client.py", "launcher.py")
# How the API server names a request's verb (kubernetes.io/docs/reference/access-authn-authz/
# authorization/#determine-the-request-verb).
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def dagster_k8s_source() -> dict[str, str]:
    import dagster_k8s

    root = Path(dagster_k8s.__file__).parent
    return {name: (root / name).read_text() for name in LAUNCHER_MODULES}


def client_calls(source: str) -> set[tuple[str, str, bool]]:
    """(client attribute, method, called with watch=True) for each call in the source."""
    calls = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        if name in CLIENT_ATTRIBUTES:
            watch = any(
                k.arg == "watch" and isinstance(k.value, ast.Constant) and k.value.value
                for k in node.keywords
            )
            calls.add((name, node.func.attr, watch))
    return calls


def permission(api_class: str, method: str, watch: bool) -> tuple[str, str, str]:
    """(API group, resource[/subresource], verb) of one Kubernetes client method."""
    import kubernetes.client

    api = getattr(kubernetes.client, api_class)
    source = inspect.getsource(getattr(api, f"{method}_with_http_info"))
    ((path, http_method),) = re.findall(r"call_api\(\s*'([^']+)', '([A-Z]+)'", source)
    match = re.fullmatch(
        r"/apis?/(?:(?P<group>[^/]+)/)?v\d+\w*/namespaces/\{namespace\}/"
        r"(?P<resource>[a-z]+)(?P<name>/\{name\})?(?:/(?P<sub>[a-z]+))?",
        path,
    )
    assert match, path
    group = match["group"] if path.startswith("/apis/") else ""
    resource = match["resource"] + (f"/{match['sub']}" if match["sub"] else "")
    if http_method == "GET":
        verb = "watch" if watch else ("get" if match["name"] else "list")
    elif http_method == "DELETE" and not match["name"]:
        verb = "deletecollection"
    else:
        verb = VERBS[http_method]
    return group, resource, verb


def needed_permissions() -> set[tuple[str, str, str]]:
    sources = dagster_k8s_source()
    for attribute, api_class in CLIENT_ATTRIBUTES.items():
        constructed = rf"{attribute}\s*=.*\n?.*kubernetes\.client\.{api_class}"
        assert re.search(constructed, sources["client.py"]), attribute
    calls = set().union(*(client_calls(text) for text in sources.values()))
    return {permission(CLIENT_ATTRIBUTES[a], m, w) for a, m, w in calls}


def granted(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_source_reading_finds_the_calls_the_issue_was_about() -> None:
    """Terminating a run deletes its pods explicitly; monitoring reads Job status and pod logs."""
    needed = needed_permissions()
    assert ("", "pods", "delete") in needed
    assert ("batch", "jobs", "create") in needed
    assert ("batch", "jobs/status", "get") in needed
    assert ("", "pods/log", "get") in needed


def test_the_dagster_role_covers_every_call(rendered: Rendered) -> None:
    (role,) = rendered.of_kind("Role")
    missing = needed_permissions() - granted(role)
    assert missing == set(), f"the Role lacks {sorted(missing)}"


def test_the_role_is_bound_to_the_accounts_that_call(rendered: Rendered) -> None:
    (role,) = rendered.of_kind("Role")
    (binding,) = rendered.of_kind("RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    subjects = {s["name"] for s in binding["subjects"]}
    for name in ("dagster-webserver", "dagster-daemon"):
        deployment = rendered.get("Deployment", f"{RELEASE}-{name}")
        spec = deployment["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] in subjects and spec["automountServiceAccountToken"]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("delete_namespaced_pod", ("", "pods", "delete")),
        ("read_namespaced_pod_log", ("", "pods/log", "get")),
        ("list_namespaced_event", ("", "events", "list")),
        ("delete_collection_namespaced_pod", ("", "pods", "deletecollection")),
        ("patch_namespaced_pod", ("", "pods", "patch")),
    ],
)
def test_permission_reading_of_client_methods(method: str, expected: tuple[str, str, str]) -> None:
    assert permission("CoreV1Api", method, watch=False) == expected
