"""The daemon config file: defaults, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from miniorch import config


def write(tmp_path: Path, text: str) -> Path:
    """A config file with `text` as its content."""
    path = tmp_path / "miniorch.yaml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    """The ConfigError message for a config file with `text`."""
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_no_file_gives_defaults_for_the_local_docker_socket() -> None:
    """Without a config file the daemon uses one node `local` on the local Docker socket and default timings."""
    cfg = config.load(None)
    assert [(n.name, n.url, n.labels) for n in cfg.nodes] == [("local", config.DEFAULT_DOCKER_URL, {})]
    assert (cfg.api.socket_mode, cfg.api.mode, cfg.api.tcp, cfg.api.token_file) == ("0660", 0o660, None, None)
    assert cfg.api.socket.name == "miniorch.sock"
    t = cfg.timing
    assert (
        t.job_backoff_initial_seconds,
        t.job_backoff_max_seconds,
        t.node_heartbeat_seconds,
        t.node_timeout_seconds,
    ) == (10, 360, 2, 10)
    assert (cfg.log.format, cfg.log.level) == ("auto", "info")
    assert (cfg.policy.allow_privileged, cfg.policy.allow_host_network, cfg.policy.allowed_host_paths) == (
        False,
        False,
        [],
    )
    assert cfg.database_url == f"sqlite:///{cfg.state_dir / 'miniorch.db'}"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    """An empty config file means all defaults."""
    assert config.load(write(tmp_path, text)) == config.load(None)


def test_values_from_the_file_override_defaults(tmp_path: Path) -> None:
    """Keys given in the file replace the defaults; the others stay."""
    identity = tmp_path / "id_ed25519"
    identity.write_text("key")
    identity.chmod(0o600)
    cfg = config.load(
        write(
            tmp_path,
            f"""
nodes:
  - name: edge-1
    url: tcp://edge-1:2376
    insecure: true
    labels: {{zone: a}}
  - name: edge-2
    url: ssh://root@edge-2
    ssh: {{identity_file: {identity}}}
api:
  socket_mode: "0600"
  tcp: 127.0.0.1:8080
  token_file: /etc/miniorch/token
timing:
  node_timeout_seconds: 3.5
database: postgresql://db/miniorch
""",
        )
    )
    assert [(n.name, n.url, n.labels) for n in cfg.nodes] == [
        ("edge-1", "tcp://edge-1:2376", {"zone": "a"}),
        ("edge-2", "ssh://root@edge-2", {}),
    ]
    assert (cfg.api.mode, cfg.api.tcp, cfg.api.token_file) == (0o600, "127.0.0.1:8080", Path("/etc/miniorch/token"))
    assert (cfg.timing.node_timeout_seconds, cfg.timing.node_heartbeat_seconds) == (3.5, 2)
    assert cfg.database_url == "postgresql://db/miniorch"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("bogus: 1\n", "bogus"),
        ("api:\n  sokcet: /tmp/x.sock\n", "api.sokcet"),
        ("timing:\n  node_timeout: 3\n", "timing.node_timeout"),
        ("nodes:\n  - name: a\n    adress: tcp://a:2375\n", "nodes[0].adress"),
    ],
)
def test_unknown_key_is_rejected_naming_it(tmp_path: Path, text: str, key: str) -> None:
    """A misspelt key is an error that names its full path, not silently ignored."""
    message = load_error(tmp_path, text)
    assert f": {key}: unknown key" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("timing:\n  node_timeout_seconds: soon\n", "timing.node_timeout_seconds"),
        ("timing:\n  node_timeout_seconds: 0\n", "timing.node_timeout_seconds"),
        ("timing:\n  job_backoff_initial_seconds: -1\n", "timing.job_backoff_initial_seconds"),
        ("log:\n  level: loud\n", "log.level"),
        ("policy:\n  allow_privileged: [yes]\n", "policy.allow_privileged"),
        ("nodes:\n  - name: Bad_Name\n", "nodes[0].name"),
        ("nodes:\n  - name: a\n  - name: b\n    url: ftp://b\n", "nodes[1].url"),
        ("nodes:\n  - name: a\n    labels: {zone: [a]}\n", "nodes[0].labels.zone"),
        ("api: /tmp/sock\n", "api"),
        ("database: mysql://db\n", "database"),
    ],
)
def test_bad_value_names_the_nested_key(tmp_path: Path, text: str, key: str) -> None:
    """A value of the wrong type or range is reported with its dotted key path."""
    message = load_error(tmp_path, text)
    assert f": {key}: " in message


@pytest.mark.parametrize("mode", ["0666", "0662", "0777", "0002"])
def test_world_writable_socket_mode_is_rejected(tmp_path: Path, mode: str) -> None:
    """A socket_mode that lets anyone write to the API socket is refused."""
    message = load_error(tmp_path, f'api:\n  socket_mode: "{mode}"\n')
    assert "api.socket_mode" in message
    assert "world-writable" in message


@pytest.mark.parametrize("mode", ["0600", "0660", "0640", "0770"])
def test_safe_socket_modes_are_accepted(tmp_path: Path, mode: str) -> None:
    """Owner- and group-only socket modes are fine."""
    assert config.load(write(tmp_path, f'api:\n  socket_mode: "{mode}"\n')).api.mode == int(mode, 8)


def test_non_octal_socket_mode_is_rejected(tmp_path: Path) -> None:
    """socket_mode must be an octal string."""
    message = load_error(tmp_path, 'api:\n  socket_mode: "rw-rw----"\n')
    assert "api.socket_mode" in message and "octal" in message


def test_tcp_listener_without_token_file_is_rejected(tmp_path: Path) -> None:
    """Exposing the API on TCP requires a bearer token file."""
    message = load_error(tmp_path, "api:\n  tcp: 0.0.0.0:8080\n")
    assert "api.tcp" in message and "api.token_file" in message


def test_duplicate_node_names_are_rejected(tmp_path: Path) -> None:
    """Two nodes with one name are an error naming the name."""
    message = load_error(
        tmp_path, "nodes:\n  - name: edge\n  - name: edge\n    url: tcp://x:2375\n    insecure: true\n"
    )
    assert ": nodes: " in message and "'edge' appears twice" in message


def test_empty_node_list_is_rejected(tmp_path: Path) -> None:
    """At least one node must be configured."""
    assert "at least one node" in load_error(tmp_path, "nodes: []\n")


def test_every_problem_gets_its_own_line_naming_file_and_key(tmp_path: Path) -> None:
    """When several keys are bad, each is one line of the error, naming the file and its key."""
    path = write(tmp_path, "bogus: 1\nlog:\n  level: loud\ntiming:\n  node_timeout_seconds: 0\n")
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    problems = info.value.problems
    assert str(info.value).splitlines() == list(problems)
    assert sorted(p.split(": ")[1] for p in problems) == ["bogus", "log.level", "timing.node_timeout_seconds"]
    assert all(p.startswith(f"config file {path}: ") for p in problems)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- a\n- b\n", "top level must be a mapping"),
        ("api: [\n", "not valid YAML"),
    ],
)
def test_unusable_file_content_is_a_config_error(tmp_path: Path, text: str, fragment: str) -> None:
    """A file that is not YAML, or not a mapping, gives a ConfigError saying so."""
    assert fragment in load_error(tmp_path, text)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist gives a ConfigError naming it."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(config.ConfigError, match="cannot read config file") as info:
        config.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("flag", "env", "system_exists", "expected", "origin"),
    [
        ("flag.yaml", "env.yaml", True, "flag.yaml", "--config"),
        (None, "env.yaml", True, "env.yaml", "$MINIORCH_CONFIG"),
        (None, "", True, "etc.yaml", "etc.yaml"),
        (None, None, True, "etc.yaml", "etc.yaml"),
        (None, None, False, None, "defaults"),
    ],
)
def test_config_file_is_the_flag_then_the_environment_then_etc_then_defaults(
    tmp_path: Path, flag: str | None, env: str | None, system_exists: bool, expected: str | None, origin: str
) -> None:
    """--config wins, then a non-empty $MINIORCH_CONFIG, then the system file when it exists, else defaults."""
    system = tmp_path / "etc.yaml"
    if system_exists:
        system.write_text("{}\n")
    environ = {} if env is None else {"MINIORCH_CONFIG": str(tmp_path / env) if env else ""}
    src = config.resolve(tmp_path / flag if flag else None, environ, system)
    assert src.path == (tmp_path / expected if expected else None)
    assert src.origin == (str(system) if origin == "etc.yaml" else origin)
    assert str(src) == (str(src.path) if expected else "embedded defaults")


def test_the_shipped_reference_config_loads(tmp_path: Path) -> None:
    """config/miniorch.yaml, the documented reference, is a valid config."""
    cfg = config.load(Path(__file__).resolve().parents[2] / "config" / "miniorch.yaml")
    assert cfg.manifests_dir == Path("/etc/miniorch/jobs.d")
