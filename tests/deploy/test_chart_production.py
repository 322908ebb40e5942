"""What production needs from the chart beyond valid manifests: no operator UI on the internet
without login, API keys required, exposed ports open to named peers only, Feast on Redis and SQL,
a data volume that never spans nodes it cannot attach to, the MLflow backend URI built with the
password URL-encoded, and `dagster instance migrate` before every upgrade.

Each check reads the rendered manifests (conftest renders the chart once per values file) or
renders the chart with one setting changed and expects Helm to refuse it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    CHART,
    NAMESPACE,
    RELEASE,
    ROOT,
    Rendered,
    env_config,
    load_values,
    pod_labels,
    pod_spec,
    selects,
)

ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"
ALB_AUTH = "alb.ingress.kubernetes.io/auth-type"
PRIVATE_BACKENDS = {f"{RELEASE}-{c}" for c in ("streamlit", "dagster-webserver", "mlflow")}


def with_registry(values: dict[str, Any]) -> dict[str, Any]:
    """The values plus the image registry the chart requires, unless they name one."""
    from tests.deploy.manifests import DEFAULT_REGISTRY

    values = json.loads(json.dumps(values))
    values.setdefault("global", {}).setdefault("imageRegistry", DEFAULT_REGISTRY)
    return values


def render(values: dict[str, Any]) -> Rendered:
    from tests.deploy.manifests import render_chart

    return render_chart("variant", with_registry(values))


def production(**overrides: Any) -> dict[str, Any]:
    """The production values with some top-level sections deep-merged over them."""
    values = load_values("production")

    def merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    merge(values, overrides)
    return values


def refused(values: dict[str, Any], message: str) -> None:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    with pytest.raises(helm_python.HelmError, match=message):
        chart.render(with_registry(values), name=RELEASE, namespace=NAMESPACE)


def container(rendered: Rendered, name: str) -> dict[str, Any]:
    return pod_spec(rendered.get("Deployment", f"{RELEASE}-{name}"))["containers"][0]


def env_entry(container: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [e for e in container.get("env", []) if e["name"] == name]
    return entry


# --- ingress: the Dagster UI, MLflow and Streamlit never public without login -----------------


def ingress_backends(ingress: dict[str, Any]) -> set[str]:
    """The Services an Ingress sends traffic to (not the ALB's own actions: use-annotation)."""
    return {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
        if path["backend"]["service"]["port"].get("name") != "use-annotation"
    }


def test_production_operator_uis_sit_on_an_internal_load_balancer(
    renderings: dict[str, Rendered],
) -> None:
    prod = renderings["production"]
    ingresses = prod.of_kind("Ingress")
    assert ingresses
    for ingress in ingresses:
        annotations = ingress["metadata"]["annotations"]
        if ingress_backends(ingress) & PRIVATE_BACKENDS:
            # Internal (the controller's default when absent too), or a login at the ALB.
            assert annotations.get(ALB_SCHEME, "internal") == "internal" or annotations.get(
                ALB_AUTH
            ) in {"oidc", "cognito"}, ingress["metadata"]["name"]
        else:
            assert ingress_backends(ingress) == {f"{RELEASE}-api"}
    served = set().union(*(ingress_backends(i) for i in ingresses))
    assert served >= PRIVATE_BACKENDS and f"{RELEASE}-api" in served


@pytest.mark.parametrize("host", ["dagster", "mlflow", "streamlit"])
def test_an_internet_facing_operator_ui_without_login_is_refused(host: str) -> None:
    public = {"annotations": {ALB_SCHEME: "internet-facing"}, "hosts": {host: "ui.example.com"}}
    values = {"ingress": {"enabled": True, "className": "alb", "private": public}}
    refused(values, "no login of their own")
    # The same Ingress with a Cognito login at the ALB renders.
    public["annotations"][ALB_AUTH] = "cognito"
    (ingress,) = render(values).of_kind("Ingress")
    assert ingress["metadata"]["annotations"][ALB_AUTH] == "cognito"
    # ... and so does an internet-facing scheme set for both Ingresses only when logged in.
    refused(
        {
            "ingress": {
                "enabled": True,
                "annotations": {ALB_SCHEME: "internet-facing"},
                "private": {"hosts": {host: "ui.example.com"}},
            }
        },
        "no login of their own",
    )


# --- the API requires keys in production ------------------------------------------------------


def test_production_api_requires_keys_and_the_pods_need_them(
    renderings: dict[str, Rendered],
) -> None:
    prod = renderings["production"]
    api = container(prod, "api")
    assert env_entry(api, "STOCKOPS_API_KEYS_REQUIRED")["value"] == "true"
    keys = env_entry(api, "STOCKOPS_API_KEYS")["valueFrom"]["secretKeyRef"]
    secret = prod.values["secrets"]["api"]
    assert (keys["name"], keys["key"]) == (secret["name"], secret["apiKeysKey"])
    # Not optional: without the key in the Secret, Kubernetes does not start the pod.
    assert keys["optional"] is False
    ui_key = env_entry(container(prod, "streamlit"), "STOCKOPS_API_KEY")["valueFrom"]
    assert ui_key["secretKeyRef"]["optional"] is False

    default = container(renderings["default"], "api")
    assert env_entry(default, "STOCKOPS_API_KEYS_REQUIRED")["value"] == "false"
    assert env_entry(default, "STOCKOPS_API_KEYS")["valueFrom"]["secretKeyRef"]["optional"] is True


def test_production_without_required_keys_is_refused() -> None:
    refused(production(api={"requireApiKeys": False}), "api.requireApiKeys=true")
    refused(production(secrets={"api": {"apiKeysKey": ""}}), "needs secrets.api.apiKeysKey")
    # Outside production an open API still renders (a laptop, a test cluster).
    rendered = render({"secrets": {"api": {"apiKeysKey": ""}}})
    assert "STOCKOPS_API_KEYS" not in {e["name"] for e in container(rendered, "api")["env"]}


# --- network policies: named peers, never the VPC ----------------------------------------------


def terraform_vpc_cidr() -> ipaddress.IPv4Network:
    variables = (ROOT / "terraform" / "variables.tf").read_text()
    block = re.search(r'variable "vpc_cidr" \{(.*?)\n\}', variables, re.S)
    assert block, "terraform/variables.tf declares vpc_cidr"
    (cidr,) = re.findall(r'default\s*=\s*"([^"]+)"', block.group(1))
    return ipaddress.ip_network(cidr)


def external_peers(rendered: Rendered, component: str) -> list[dict[str, Any]]:
    policy = rendered.get("NetworkPolicy", f"{RELEASE}-allow-{component}")
    return [
        peer
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
        if "ipBlock" in peer or "namespaceSelector" in peer
    ]


def test_production_exposed_ports_admit_the_load_balancer_subnets_not_the_vpc(
    renderings: dict[str, Rendered],
) -> None:
    prod = renderings["production"]
    vpc = terraform_vpc_cidr()
    for component in ("api", "streamlit", "dagster-webserver", "mlflow"):
        peers = external_peers(prod, component)
        blocks = [ipaddress.ip_network(p["ipBlock"]["cidr"]) for p in peers if "ipBlock" in p]
        assert blocks, f"{component}: the load balancer cannot reach it"
        for block in blocks:
            # Inside the VPC (a load balancer subnet), and not the VPC itself or more.
            assert block.subnet_of(vpc) and block.prefixlen > vpc.prefixlen, (component, block)
        for peer in peers:
            if "namespaceSelector" in peer:
                assert peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    # The public ALB reaches the API only; the private one the operator UIs only.
    public = {p["ipBlock"]["cidr"] for p in external_peers(prod, "api") if "ipBlock" in p}
    private = {p["ipBlock"]["cidr"] for p in external_peers(prod, "mlflow") if "ipBlock" in p}
    assert public and private and not public & private
    # Prometheus scrapes the API, nothing else, from its namespace.
    assert any("namespaceSelector" in p for p in external_peers(prod, "api"))
    assert not any("namespaceSelector" in p for p in external_peers(prod, "dagster-webserver"))


@pytest.mark.parametrize(
    ("peers", "message"),
    [
        ([{"ipBlock": {"cidr": "0.0.0.0/0"}}], "0.0.0.0/0 is wider than /16"),
        # The internet in two halves, then a private range wider than any VPC.
        ([{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}], "wider"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8"}}], "10.0.0.0/8 is wider than /16"),
        ([{"namespaceSelector": {}}], "empty namespaceSelector admits every namespace"),
        ([{"podSelector": {}}], "empty podSelector admits every pod"),
    ],
)
def test_production_refuses_a_policy_open_to_everyone(
    peers: list[dict[str, Any]], message: str
) -> None:
    for group in ("public", "private", "metrics"):
        refused(production(networkPolicy={"ingressFrom": {group: peers}}), message)
    refused(production(networkPolicy={"enabled": False}), "needs networkPolicy.enabled")


def test_production_admits_named_subnets_and_namespaces(renderings: dict[str, Rendered]) -> None:
    """The refusals above can fail only on what they mean to refuse: the production values
    (ALB /24 subnets, the monitoring namespace by name) render."""
    peers = renderings["production"].values["networkPolicy"]["ingressFrom"]
    assert all(int(p["ipBlock"]["cidr"].split("/")[1]) >= 16 for p in peers["public"])
    assert peers["metrics"][0]["namespaceSelector"]["matchLabels"]


# --- Feast in production: Redis online store, SQL registry -------------------------------------


def test_production_feast_uses_redis_and_a_sql_registry(renderings: dict[str, Rendered]) -> None:
    from urllib.parse import urlparse

    prod, default = renderings["production"], renderings["default"]
    env = env_config(prod)
    online = urlparse(env["STOCKOPS_FEAST_ONLINE_STORE_URL"])
    cache = urlparse(env["STOCKOPS_REDIS_URL"])
    assert online.scheme == "redis" and online.netloc == cache.netloc
    prod.get("Service", online.hostname)  # the release's Redis
    assert online.path != cache.path  # its own database, apart from the cache's
    # The cache's eviction never drops features: only keys with a TTL may be evicted.
    redis = container(prod, "redis")
    policy = redis["args"][redis["args"].index("--maxmemory-policy") + 1]
    assert policy.startswith("volatile-") or policy == "noeviction"

    # The registry URL holds the database password: a Secret reference for every process of the
    # code location (code server, API, run pods), never a literal.
    secret = prod.values["secrets"]["feast"]
    for name in ("user-code", "api"):
        entry = env_entry(container(prod, name), "STOCKOPS_FEAST_REGISTRY_URL")
        reference = entry["valueFrom"]["secretKeyRef"]
        assert (reference["name"], reference["key"]) == (secret["name"], secret["registryUrlKey"])
    run_env = prod.instance()["run_launcher"]["config"]["run_k8s_config"]["container_config"]
    assert "STOCKOPS_FEAST_REGISTRY_URL" in {e["name"] for e in run_env["env"]}
    assert "STOCKOPS_FEAST_REGISTRY_URL" not in env

    # The default install keeps SQLite and the file registry under the data volume.
    assert "STOCKOPS_FEAST_ONLINE_STORE_URL" not in env_config(default)
    assert "STOCKOPS_FEAST_REGISTRY_URL" not in {
        e["name"] for e in container(default, "user-code")["env"]
    }


def test_feast_on_redis_needs_a_redis() -> None:
    refused({"feast": {"onlineStore": "redis"}, "redis": {"enabled": False}}, "needs redis")


# --- the shared data volume --------------------------------------------------------------------


def mounts_data(spec: dict[str, Any], claim: str) -> bool:
    return any(
        v.get("persistentVolumeClaim", {}).get("claimName") == claim for v in spec["volumes"]
    )


def test_a_readwriteonce_data_volume_keeps_its_pods_on_one_node(
    renderings: dict[str, Rendered], run_jobs: dict[str, dict[str, Any]]
) -> None:
    default = renderings["default"]
    claim = default.get("PersistentVolumeClaim", f"{RELEASE}-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    name = claim["metadata"]["name"]
    mounting = [
        (w["metadata"]["name"], pod_labels(w), pod_spec(w))
        for w in default.workloads()
        if mounts_data(pod_spec(w), name)
    ]
    run_pod = run_jobs["default"]["spec"]["template"]
    mounting.append(("run pod", run_pod["metadata"]["labels"], run_pod["spec"]))
    components = ("dagster-webserver", "dagster-daemon", "user-code", "api")
    expected = {*(f"{RELEASE}-{c}" for c in components), "run pod"}
    assert {where for where, _, _ in mounting} >= expected
    terms = []
    for where, _, spec in mounting:
        (term,) = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname", where
        terms.append(term["labelSelector"]["matchLabels"])
    # One selector, and every pod that mounts the volume matches it: the first pod picks the node
    # (it matches its own term), every later one follows it there.
    assert all(t == terms[0] for t in terms)
    for where, labels, _ in mounting:
        assert selects(terms[0], labels), where
    # Pods that do not mount it are free to go anywhere.
    for workload in default.workloads():
        if not mounts_data(pod_spec(workload), name):
            assert not selects(terms[0], pod_labels(workload)), workload["metadata"]["name"]


def test_a_readwritemany_data_volume_leaves_scheduling_free(
    renderings: dict[str, Rendered], run_jobs: dict[str, dict[str, Any]]
) -> None:
    prod = renderings["production"]
    assert "ReadWriteMany" in prod.values["persistence"]["data"]["accessModes"]
    for workload in prod.workloads():
        assert "podAffinity" not in pod_spec(workload).get("affinity", {})
    assert "affinity" not in run_jobs["production-gpu"]["spec"]["template"]["spec"]


def test_gpu_runs_with_a_readwriteonce_data_volume_are_refused() -> None:
    refused({"runs": {"gpu": {"enabled": True}}}, "needs a ReadWriteMany data volume")


# --- MLflow: the backend store URI with the password URL-encoded ------------------------------


def test_mlflow_backend_uri_encodes_the_password(
    renderings: dict[str, Rendered], tmp_path: Path
) -> None:
    """Run the MLflow container's own command line, with `mlflow` replaced by a stub that prints
    what it received, and a password no URL may carry as it is."""
    from sqlalchemy.engine import make_url

    password = "p@ss:w/rd#?%&+ ="
    stub = tmp_path / "mlflow"
    stub.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "print(json.dumps({'uri': os.environ['MLFLOW_BACKEND_STORE_URI'], 'argv': sys.argv[1:]}))\n"
    )
    stub.chmod(0o755)
    for name, rendered in renderings.items():
        spec = pod_spec(rendered.get("Deployment", f"{RELEASE}-mlflow"))
        (upgrade,) = spec["initContainers"]
        (server,) = spec["containers"]
        for mlflow in (upgrade, server):
            seen = run_mlflow_command(mlflow, rendered, password, tmp_path)
            url = make_url(seen["uri"])
            postgres = rendered.values["postgresql"]
            assert url.drivername == "postgresql+psycopg2", name
            assert url.password == password, name
            assert url.username == postgres["username"]
            assert url.database == postgres["mlflowDatabase"]
            assert url.port == postgres["port"]
            assert url.query["sslmode"] == postgres["sslMode"]
            if postgres["enabled"]:
                rendered.get("Service", url.host)
            else:
                assert url.host == postgres["host"]
        # Before the server starts, the schema follows the image's MLflow: `mlflow db upgrade`
        # with the same URI as an argument (mlflow takes none from the environment there).
        seen = run_mlflow_command(upgrade, rendered, password, tmp_path)
        assert seen["argv"] == ["db", "upgrade", seen["uri"]]
        assert upgrade["image"] == server["image"]
        seen = run_mlflow_command(server, rendered, password, tmp_path)
        assert seen["argv"] == server["args"] and seen["argv"][0] == "server"


def run_mlflow_command(
    mlflow: dict[str, Any], rendered: Rendered, password: str, stubs: Path
) -> dict[str, Any]:
    env = {"PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}"}
    for entry in mlflow["env"]:
        if "valueFrom" in entry:
            reference = entry["valueFrom"]["secretKeyRef"]
            assert reference["name"] == rendered.values["secrets"]["postgresql"]["name"]
            env[entry["name"]] = password
        else:
            env[entry["name"]] = entry["value"]
    assert mlflow["command"][0] == "python"
    command = [sys.executable, *mlflow["command"][1:], *mlflow["args"]]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- migrations on upgrade ---------------------------------------------------------------------


def test_upgrades_run_dagster_instance_migrate_first(rendered: Rendered) -> None:
    job = rendered.get("Job", f"{RELEASE}-dagster-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-upgrade"
    spec = pod_spec(job)
    (migrate,) = spec["containers"]
    assert [*migrate["command"], *migrate["args"]] == ["dagster", "instance", "migrate"]
    # The new release's Dagster (the daemon image) migrates, with the storage password.
    assert migrate["image"] == container(rendered, "dagster-daemon")["image"]
    assert "DAGSTER_PG_PASSWORD" in {e["name"] for e in migrate["env"]}
    assert job["spec"]["backoffLimit"] == 0 and spec["restartPolicy"] == "Never"

    # Its instance file is a hook too, created before the Job, with the instance's storage.
    (volume,) = [v for v in spec["volumes"] if "configMap" in v]
    config_map = rendered.get("ConfigMap", volume["configMap"]["name"])
    hook = config_map["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-upgrade"
    assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    instance = yaml.safe_load(config_map["data"]["dagster.yaml"])
    assert instance["storage"] == rendered.instance()["storage"]

    if rendered.values["postgresql"]["enabled"]:
        # A hook NetworkPolicy lets it reach the in-cluster Postgres, even when the release being
        # upgraded predates the migrate Job.
        policy = rendered.get("NetworkPolicy", f"{RELEASE}-dagster-migrate")
        assert policy["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
        postgres = rendered.get("StatefulSet", f"{RELEASE}-postgresql")
        assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels(postgres))
        (rule,) = policy["spec"]["ingress"]
        assert {p["port"] for p in rule["ports"]} == {5432}
        assert any(selects(p["podSelector"]["matchLabels"], pod_labels(job)) for p in rule["from"])


def test_the_migrate_jobs_instance_migrates_a_real_database(
    renderings: dict[str, Rendered], database: str, tmp_path: Path
) -> None:
    """The hook's instance file, pointed at a local Postgres, is what `dagster instance migrate`
    needs: DagsterInstance.upgrade() is the command's body."""
    from dagster import DagsterInstance

    rendered = renderings["default"]
    job = rendered.get("Job", f"{RELEASE}-dagster-migrate")
    (volume,) = [v for v in pod_spec(job)["volumes"] if "configMap" in v]
    instance = yaml.safe_load(
        rendered.get("ConfigMap", volume["configMap"]["name"])["data"]["dagster.yaml"]
    )
    db = instance["storage"]["postgres"]["postgres_db"]
    db.update(hostname="127.0.0.1", port=5432, username="postgres", db_name=database)
    db["params"]["sslmode"] = "disable"
    for section in ("local_artifact_storage", "compute_logs"):
        base = Path(instance[section]["config"]["base_dir"])
        assert base.is_relative_to("/tmp")  # the Job's only writable folder
        instance[section]["config"]["base_dir"] = str(tmp_path / base.relative_to("/tmp"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_PG_PASSWORD", "unused-with-trust-auth")
        with DagsterInstance.from_config(str(home)) as dagster_instance:
            dagster_instance.upgrade()
            assert dagster_instance.get_runs_count() == 0


# --- an external Postgres gets the MLflow and Feast databases ----------------------------------


def test_external_postgres_gets_its_databases_from_a_hook(
    renderings: dict[str, Rendered], tmp_path: Path
) -> None:
    """The hook's own command, run twice against the local Postgres: it creates the missing
    databases, then finds them and changes nothing."""
    import psycopg2

    from tests.deploy.manifests import PG

    suffix = os.urandom(4).hex()
    names = {
        "mlflowDatabase": f"stockops_mlflow_{suffix}",
        "feastDatabase": f"stockops_feast_{suffix}",
    }
    rendered = render(production(postgresql=names))
    job = rendered.get("Job", f"{RELEASE}-postgresql-databases")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (create,) = pod_spec(job)["containers"]
    env = {"PATH": os.environ["PATH"]}
    for entry in create["env"]:
        env[entry["name"]] = entry.get("value", "unused-with-trust-auth")
    assert env["PGHOST"] == rendered.values["postgresql"]["host"]
    assert env["PGSSLMODE"] == "require"
    env.update(PGHOST=PG["host"], PGPORT=str(PG["port"]), PGUSER=PG["user"], PGSSLMODE="disable")
    env.update(PGDATABASE=PG["dbname"], HOME=str(tmp_path))
    admin = psycopg2.connect(**PG, connect_timeout=3)
    admin.autocommit = True
    try:
        for _ in range(2):
            result = subprocess.run(
                [*create["command"], *create["args"]],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                    (list(names.values()),),
                )
                assert {row[0] for row in cursor.fetchall()} == set(names.values())
    finally:
        with admin.cursor() as cursor:
            for database in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()
    # The in-cluster Postgres creates them itself, at its first start (and needs no hook).
    default = renderings["default"]
    init = "\n".join(default.get("ConfigMap", f"{RELEASE}-postgresql-init")["data"].values())
    postgres = default.values["postgresql"]
    for database in (postgres["mlflowDatabase"], postgres["feastDatabase"]):
        assert f"CREATE DATABASE {database};" in init
    with pytest.raises(KeyError):
        default.get("Job", f"{RELEASE}-postgresql-databases")


def test_pre_install_hooks_use_nothing_the_release_creates_after_them(rendered: Rendered) -> None:
    """Pre-install hooks run before any other object of the release exists: a hook's pod that
    names the chart's ServiceAccount or ConfigMap would never start on a first install."""
    regular = {
        (d["kind"], d["metadata"]["name"])
        for d in rendered.docs
        if "helm.sh/hook" not in d["metadata"].get("annotations", {})
    }
    hooks = [
        d
        for d in rendered.docs
        if "pre-install" in d["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    ]
    for hook in (h for h in hooks if h["kind"] == "Job"):
        spec = pod_spec(hook)
        used = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
        used |= {("ConfigMap", v["configMap"]["name"]) for v in spec["volumes"] if "configMap" in v}
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            used |= {
                ("ConfigMap", s["configMapRef"]["name"])
                for s in container.get("envFrom", [])
                if "configMapRef" in s
            }
        assert not used & regular, (hook["metadata"]["name"], used & regular)
