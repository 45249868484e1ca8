"""The platform's workload declarations run: one consumer per broker and preset, started with
exactly the environment its Deployment declares, against a real broker on loopback.

Each case runs the real stack program under the mock monitor with one workload declared in the
stack config (payment-service: consumes `inventory`, produces `payments`, keeps an effects
journal), takes its Deployment, and starts `python -m event_platform.apps.orders.payment_service` with that env.
What differs from a pod, and only that: cluster host names point at the loopback broker, the
health and metrics ports are free ones (other test runs share this machine), and files the
manifest mounts are written into a temporary folder standing for the mount path. Secret
references are resolved from the Secrets the program declared; the broker gets exactly the
credentials and permissions the program declared (the prod Kafka case: a SASL_SSL SCRAM-SHA-512
listener with a certificate from a CA generated here, handed to the program as the cluster CA).
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from event_platform.apps.orders.events import ORDER_EVENTS, Address, LineItem, OrderDetails, StockReservedV1
from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import Broker, BrokerError, OutboundRecord
from event_platform.apps.runtime.bindings import attribute
from event_platform.apps.runtime.envelope import Envelope, WireMessage
from event_platform.apps.runtime.kafka import KafkaBroker
from event_platform.apps.runtime.nats import NatsBroker
from event_platform.apps.runtime.rabbitmq import RabbitMQBroker, declare_topics
from event_platform.apps.runtime.settings import KafkaSettings, NatsSettings, RabbitMQSettings
from scripts.brokers.installed import free_port
from scripts.brokers.local_kafka import KafkaUnavailable, LocalKafka, SaslSslListener
from scripts.brokers.local_nats import LocalNats, NatsUnavailable
from scripts.brokers.local_rabbitmq import LocalRabbitMQ
from tests.apps.support.servers import wait_until
from tests.unit.harness import Recorder, Registered, reveal, run_stack

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SERVICE = "payment-service"
WORKLOAD = {"name": SERVICE, "module": "event_platform.apps.orders.payment_service", "consumes": ["inventory"],
            "produces": ["payments"], "effects_journal": True}
CA_ID = "kafka/events-cluster-ca-cert"


def declare(preset: str, broker: str, existing: dict[str, dict[str, Any]] | None = None) -> Recorder:
    """The stack program of `preset` with the one workload on `broker`."""
    recorder = Recorder(existing=existing or {})
    return run_stack(preset, {"platform": {"workloads": {"services": [{**WORKLOAD, "broker": broker}]}}}, recorder)


def secret_as_read(data: dict[str, str]) -> dict[str, Any]:
    """A Secret's outputs as reading it from the cluster returns them (base64 data)."""
    return {"data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


@dataclass
class Deployed:
    """A declared Deployment's container, turned into a process environment."""

    recorder: Recorder
    mounts: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        deployment = next(r for r in self.recorder.of_type("kubernetes:apps/v1:Deployment")
                          if r.object_name == SERVICE)
        pod = deployment.inputs["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["command"] == ["python", "-m", "event_platform.apps.orders.payment_service"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for mount in container["volumeMounts"]:
            secret = volumes[mount["name"]].get("secret")
            if secret is not None:  # the Secret's keys become files under the mount path
                folder = self.local_path(mount["mountPath"])
                folder.mkdir(parents=True)
                for key, value in self.secret_data(secret["secretName"]).items():
                    (folder / key).write_text(value)
        for variable in container["env"]:
            if "value" in variable:
                self.env[variable["name"]] = self.map_mounts(str(variable["value"]), container["volumeMounts"])
            else:
                ref = variable["valueFrom"]["secretKeyRef"]
                self.env[variable["name"]] = self.secret_data(ref["name"])[ref["key"]]

    def secret(self, name: str, namespace: str = "apps") -> Registered:
        return next(s for s in self.recorder.of_type("kubernetes:core/v1:Secret")
                    if s.object_name == name and s.inputs["metadata"]["namespace"] == namespace)

    def secret_data(self, name: str, namespace: str = "apps") -> dict[str, str]:
        data: dict[str, str] = reveal(self.secret(name, namespace).inputs.get("stringData") or {})
        return data

    def local_path(self, mount_path: str) -> Path:
        return self.mounts / mount_path.strip("/")

    def map_mounts(self, value: str, mounts: list[dict[str, Any]]) -> str:
        for mount in mounts:
            if mount["mountPath"] != "/tmp" and value.startswith(mount["mountPath"] + "/"):
                return str(self.local_path(mount["mountPath"])) + value[len(mount["mountPath"]):]
        return value

    def point_at(self, variable: str, cluster_address: str, local_address: str) -> None:
        assert cluster_address in self.env[variable], (variable, self.env[variable])
        self.env[variable] = self.env[variable].replace(cluster_address, local_address)


class Running:
    def __init__(self, deployed: Deployed, log: Path) -> None:
        env = dict(deployed.env)
        self.health_port = free_port()
        env.update(HEALTH_PORT=str(self.health_port), METRICS_PORT=str(free_port()))
        # Only what a container image provides besides the declared env: the interpreter's path.
        env.update(PATH=os.environ["PATH"], PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "event_platform.apps.orders.payment_service"], env=env,
                                        cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=1) as response:
                return int(response.status) == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def reserved(order_id: str) -> Envelope:
    order = OrderDetails(customer_id="c-1", customer_email="c@example.com", payment_token="tok_visa",
                         items=(LineItem(sku="SKU-1", quantity=1, unit_price_cents=500),),
                         shipping_address=Address(name="C", street="1 Main St", city="Town", postal_code="1000",
                                                  country="BE"))
    return Envelope(StockReservedV1(order_id=order_id, order=order), source="tests/inventory", key=order_id)


def prove(deployed: Deployed, admin: Broker, tmp_path: Path) -> None:
    """Started with the declared env, the service connects, consumes, produces and dead-letters."""
    running = Running(deployed, tmp_path / "service.log")
    try:
        wait_until(running.ready, "the service to be ready (connected and subscribed)", timeout_s=90)
        codec = admin.codec(ORDER_EVENTS)
        publisher = admin.publisher()
        publisher.publish(OutboundRecord("inventory", codec.encode(reserved("order-1"))))
        publisher.publish(OutboundRecord("inventory", WireMessage(value=b"not an event", key=b"order-2")))
        publisher.flush()
        publisher.close()

        def read(topic: str) -> list[Any]:
            reader = admin.reader([topic])
            try:
                return [record for record in reader.catch_up()
                        if not (record.message.headers and any(k == "x-eventplatform-fence"
                                                               for k, _ in record.message.headers))]
            finally:
                reader.close()

        wait_until(lambda: len(read("payments")) == 1 and len(read(f"{SERVICE}.dlq")) == 1,
                   "one payment and one dead letter", timeout_s=90)
        [payment] = read("payments")
        assert attribute(payment.message, "type") == "io.eventplatform.payment.authorized.v1"
        assert payment.message.key == b"order-1"
        [letter] = read(f"{SERVICE}.dlq")
        headers = deadletter.dlq_headers(letter.message)
        assert letter.message.value == b"not an event"
        assert headers[deadletter.SOURCE_TOPIC] == "inventory" and headers[deadletter.CONSUMER_GROUP] == SERVICE
        assert running.process.poll() is None
    finally:
        running.stop()


# -- Kafka ---------------------------------------------------------------------------------------


def create_declared_topics(recorder: Recorder, bootstrap: str) -> None:
    """The KafkaTopics the program declared, as Strimzi's topic operator would create them
    (one broker here, so one replica); the broker auto-creates nothing."""
    from kafka.admin import KafkaAdminClient, NewTopic

    declared = {str(r.spec.get("topicName") or r.object_name): int(r.spec["partitions"])
                for r in recorder.custom("KafkaTopic")}
    assert {"inventory", "payments", f"{SERVICE}.dlq", f"{SERVICE}.effects"} <= set(declared)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)
                             for name, partitions in declared.items() if name not in existing])
    finally:
        admin.close()


def test_dev_kafka_workload_runs_with_its_declared_environment(kafka_server: LocalKafka, tmp_path: Path) -> None:
    recorder = declare("dev", "kafka")
    deployed = Deployed(recorder, tmp_path / "mounts")
    assert deployed.env["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    deployed.point_at("KAFKA_BOOTSTRAP_SERVERS", "events-kafka-bootstrap.kafka.svc:9092",
                      kafka_server.bootstrap_servers)
    reset_kafka(kafka_server)
    create_declared_topics(recorder, kafka_server.bootstrap_servers)
    prove(deployed, KafkaBroker(KafkaSettings(bootstrap_servers=kafka_server.bootstrap_servers)), tmp_path)


def reset_kafka(server: LocalKafka) -> None:
    from tests.apps.support.brokers import KafkaUnderTest

    KafkaUnderTest(server).reset_topics([])


@pytest.fixture
def test_ca(tmp_path: Path) -> dict[str, Path]:
    """A CA and a broker certificate for 127.0.0.1 signed by it, plus a PKCS12 keystore."""
    folder = tmp_path / "pki"
    folder.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=event-platform test cluster CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
            "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.crt", "-days", "2", "-extfile", "san.ext")
    openssl("pkcs12", "-export", "-in", "broker.crt", "-inkey", "broker.key", "-out", "broker.p12",
            "-passout", "pass:test-keystore")
    return {name: folder / name for name in ("ca.crt", "broker.p12", "broker.crt", "broker.key")}


def test_prod_kafka_workload_authenticates_with_scram_over_tls_verified_by_the_cluster_ca(
        test_ca: dict[str, Path], tmp_path: Path) -> None:
    ca_pem = test_ca["ca.crt"].read_text()
    # Strimzi's cluster CA Secret, as the program reads it once the Kafka cluster is Ready.
    recorder = declare("prod", "kafka", {CA_ID: secret_as_read({"ca.crt": ca_pem})})
    deployed = Deployed(recorder, tmp_path / "mounts")
    assert deployed.env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert deployed.env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert Path(deployed.env["KAFKA_SSL_CAFILE"]).read_text() == ca_pem  # the CA reached the workload
    # The KafkaUser's password, as Strimzi's user operator would install it.
    user = next(r for r in recorder.custom("KafkaUser") if r.object_name == SERVICE)
    password_ref = user.spec["authentication"]["password"]["valueFrom"]["secretKeyRef"]
    password = deployed.secret_data(password_ref["name"], "kafka")[password_ref["key"]]
    assert deployed.env["KAFKA_SASL_PASSWORD"] == password and deployed.env["KAFKA_SASL_USERNAME"] == SERVICE
    listener = SaslSslListener(keystore=test_ca["broker.p12"], keystore_password="test-keystore",
                               scram_users={SERVICE: password})
    try:
        server = LocalKafka(data_dir=tmp_path / "kafka", sasl_ssl=listener)
        server.start()
    except KafkaUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        deployed.point_at("KAFKA_BOOTSTRAP_SERVERS", "events-kafka-bootstrap.kafka.svc:9093",
                          listener.bootstrap_servers)
        create_declared_topics(recorder, server.bootstrap_servers)
        prove(deployed, KafkaBroker(KafkaSettings(bootstrap_servers=server.bootstrap_servers)), tmp_path)
    finally:
        server.stop()


# -- RabbitMQ ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["dev", "prod"])
def test_rabbitmq_workload_runs_as_its_own_user_with_exactly_the_declared_permissions(
        preset: str, rabbitmq_server: LocalRabbitMQ, tmp_path: Path) -> None:
    recorder = declare(preset, "rabbitmq")
    deployed = Deployed(recorder, tmp_path / "mounts")
    # The user the topology operator would create: credentials from its Secret, the declared
    # permissions and tags, nothing else.
    [user] = [r for r in recorder.custom("User") if r.object_name == SERVICE]
    credentials = deployed.secret_data(user.spec["importCredentialsSecret"]["name"], "rabbitmq")
    [permission] = [r for r in recorder.custom("Permission") if r.spec["userReference"]["name"] == SERVICE]
    rights = permission.spec["permissions"]
    if credentials["username"] in rabbitmq_server.ctl("list_users"):  # the other preset's run
        rabbitmq_server.ctl("delete_user", credentials["username"])
    rabbitmq_server.ctl("add_user", credentials["username"], credentials["password"])
    rabbitmq_server.ctl("set_user_tags", credentials["username"], *user.spec["tags"])
    rabbitmq_server.ctl("set_permissions", "-p", permission.spec["vhost"], credentials["username"],
                        rights["configure"], rights["write"], rights["read"])
    deployed.point_at("RABBITMQ_URL", "@events.rabbitmq.svc:5672/", f"@127.0.0.1:{rabbitmq_server.port}/")
    admin_settings = RabbitMQSettings(url=rabbitmq_server.url)
    clean_rabbitmq(rabbitmq_server)
    declare_topics(admin_settings, ["inventory"])
    prove(deployed, RabbitMQBroker(admin_settings), tmp_path)


def clean_rabbitmq(server: LocalRabbitMQ) -> None:
    from tests.apps.support.servers import RabbitMQUnderTest

    RabbitMQUnderTest(server).reset_topics([])


# -- NATS ----------------------------------------------------------------------------------------

ADMIN = ("test-admin", "test-admin-password")


def nats_authorization(recorder: Recorder, deployed: Deployed) -> str:
    """nats.conf's authorization block as the chart renders it, with the env the server container
    gets from the users Secret substituted (and a test administrator added)."""
    values = recorder.chart("nats").inputs["values"]
    env = values["container"]["env"]
    users = []
    for user in values["config"]["merge"]["authorization"]["users"]:
        variable = re.fullmatch(r"<< \$(\w+) >>", user["password"])
        assert variable, user
        ref = env[variable.group(1)]["valueFrom"]["secretKeyRef"]
        password = deployed.secret_data(ref["name"], "nats")[ref["key"]]
        users.append(f'{{user: "{user["user"]}", password: "{password}"}}')
    users.append(f'{{user: "{ADMIN[0]}", password: "{ADMIN[1]}"}}')
    return "authorization {\n  users: [\n    " + ",\n    ".join(users) + "\n  ]\n}\n"


def nats_servers(count: int, folder: Path, authorization: str) -> list[LocalNats]:
    """One server, or a JetStream cluster of `count` on loopback (prod streams have 3 replicas)."""
    if count == 1:
        return [LocalNats(data_dir=folder / "nats-0", config=authorization)]
    routes = [free_port() for _ in range(count)]
    cluster = ("cluster {{ name: test-{name}, listen: 127.0.0.1:{port}, routes: [{routes}] }}\n")
    return [LocalNats(data_dir=folder / f"nats-{index}", config=authorization + cluster.format(
        name=routes[0], port=port, routes=", ".join(f"nats-route://127.0.0.1:{p}" for p in routes if p != port)))
        for index, port in enumerate(routes)]


@pytest.mark.parametrize("preset", ["dev", "prod"])
def test_nats_workload_authenticates_with_its_generated_credentials(preset: str, tmp_path: Path,
                                                                     test_ca: dict[str, Path]) -> None:
    tls = preset == "prod"
    ca_pem = test_ca["ca.crt"].read_text()
    # cert-manager's CA Secret, as the program reads it once the CA Certificate is Ready.
    recorder = declare(preset, "nats", {"nats/nats-ca": secret_as_read({"ca.crt": ca_pem})})
    deployed = Deployed(recorder, tmp_path / "mounts")
    assert deployed.env["NATS_USER"] == SERVICE and deployed.env["NATS_PASSWORD"]
    replicas = int(deployed.env["NATS_STREAM_REPLICAS"])
    assert replicas == (3 if preset == "prod" else 1)
    server_config = nats_authorization(recorder, deployed)
    if tls:
        assert Path(deployed.env["NATS_CA_FILE"]).read_text() == ca_pem  # the CA reached the workload
        server_config += f'tls {{ cert_file: "{test_ca["broker.crt"]}", key_file: "{test_ca["broker.key"]}" }}\n'
    else:
        assert "NATS_CA_FILE" not in deployed.env
    servers = nats_servers(replicas, tmp_path, server_config)
    try:
        for server in servers:
            server.start()
    except NatsUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        urls = ",".join(server.url for server in servers)
        deployed.point_at("NATS_URL", "nats://nats.nats.svc:4222", urls)
        ca_file = test_ca["ca.crt"] if tls else None
        admin = NatsSettings(url=urls, user=ADMIN[0], password=ADMIN[1], ca_file=ca_file)
        # Anonymous clients are refused.
        with pytest.raises(BrokerError, match="cannot connect to NATS"):
            NatsBroker(NatsSettings(url=urls, connect_timeout_s=1, ca_file=ca_file)).publisher()
        create_declared_streams(recorder, admin)
        prove(deployed, NatsBroker(admin), tmp_path)
    finally:
        for server in servers:
            server.stop()


def create_declared_streams(recorder: Recorder, admin: NatsSettings) -> None:
    """The NACK Streams the program declared, with their declared replicas."""
    import asyncio

    import nats
    import nats.js.errors
    from nats.js import api

    async def create() -> None:
        tls = ssl.create_default_context(cafile=str(admin.ca_file)) if admin.ca_file else None
        client = await nats.connect(admin.url.split(","), user=admin.user, password=admin.password, tls=tls)
        js = client.jetstream()
        deadline = time.monotonic() + 30
        for stream in recorder.custom("Stream"):
            spec = stream.spec
            config = api.StreamConfig(name=spec["name"], subjects=spec["subjects"], storage=api.StorageType.FILE,
                                      num_replicas=int(spec["replicas"]))
            while True:
                try:
                    await js.add_stream(config)
                    break
                except nats.js.errors.Error:
                    if time.monotonic() > deadline:  # a cluster needs a meta leader first
                        raise
                    await asyncio.sleep(0.5)
        await client.close()

    asyncio.run(create())
