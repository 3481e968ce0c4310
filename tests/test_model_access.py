"""The model-access layer: one key precedence (flag > spec > env) for the judge, knowledge and `run`, checked by
the Authorization header a real server on 127.0.0.1 receives; keep-alive; auth failures; Retry-After."""

from __future__ import annotations

import argparse
import email.utils
import json
import time
from pathlib import Path

import pytest
from judge_server import JudgeServer, Reply, sample, write_run
from lm_eval.api.instance import Instance

from instructeval.cli.judge import add_parser
from instructeval.errors import InstructEvalError, UnknownModelSpec
from instructeval.judge import JudgeOptions, grade_run
from instructeval.knowledge.answering import ChatAnswerer
from instructeval.models.backends import BackendOptions, build_lm
from instructeval.models.chat_client import proxy_for, retry_after_seconds
from instructeval.models.client_settings import ClientSettings
from instructeval.models.keys import JUDGE_KEY_ENV, OPENAI_KEY_ENV, ApiKey, resolve_api_key
from instructeval.models.spec import parse_model_spec

VERDICT = Reply(json.dumps({"score": 4, "reason": "fine"}))
KEYS = {"FLAG_KEY": "sk-flag", "SPEC_KEY": "sk-spec", JUDGE_KEY_ENV: "sk-judge", OPENAI_KEY_ENV: "sk-openai"}


@pytest.fixture
def server() -> JudgeServer:
    with JudgeServer(lambda request: VERDICT) as running:
        yield running


@pytest.fixture
def all_keys(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def judged_with(server: JudgeServer, folder: Path, spec: str, flag_env: str | None = None) -> set[str | None]:
    """The Authorization headers the server saw while one fresh run was graded."""
    start = len(server.log)
    run = write_run(folder, [sample("d1", "informative", "An answer.")])
    report = grade_run(run, JudgeOptions(judges=(spec,), use_cache=False, api_key_env=flag_env))
    assert report.complete
    return {entry.authorization for entry in server.log[start:]}


def test_judge_key_precedence_is_flag_then_spec_then_env(
    server: JudgeServer, all_keys: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain, named = server.judge_spec(), f"{server.judge_spec()}?key_env=SPEC_KEY"
    assert judged_with(server, tmp_path / "1", named, flag_env="FLAG_KEY") == {"Bearer sk-flag"}
    assert judged_with(server, tmp_path / "2", named) == {"Bearer sk-spec"}
    assert judged_with(server, tmp_path / "3", plain) == {"Bearer sk-judge"}
    all_keys.delenv(JUDGE_KEY_ENV)
    assert judged_with(server, tmp_path / "4", plain) == {"Bearer sk-openai"}
    all_keys.delenv(OPENAI_KEY_ENV)
    assert judged_with(server, tmp_path / "5", plain) == {"Bearer EMPTY"}


def test_the_judge_command_takes_the_key_flag(
    server: JudgeServer, all_keys: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = write_run(tmp_path / "run", [sample("d1", "informative", "An answer.")])
    parser = argparse.ArgumentParser(prog="instructeval")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["judge", str(run), "--judge", server.judge_spec(), "--judge-api-key-env", "FLAG_KEY", "--no-judge-cache"]
    )
    assert args.func(args) == 0
    assert {entry.authorization for entry in server.log} == {"Bearer sk-flag"}


def test_knowledge_and_run_read_the_model_key_not_the_judge_key(
    server: JudgeServer, all_keys: pytest.MonkeyPatch
) -> None:
    """The evaluated model's role skips INSTRUCTEVAL_JUDGE_API_KEY; a spec's variable wins over the environment."""
    messages = [{"role": "user", "content": "Say hi."}]
    assert ChatAnswerer(parse_model_spec(server.judge_spec())).generate([messages], max_tokens=8) == [VERDICT.text]
    ChatAnswerer(parse_model_spec(f"{server.judge_spec()}?key_env=SPEC_KEY")).generate([messages], max_tokens=8)
    lm = build_lm(
        parse_model_spec(f"{server.judge_spec()}?key_env=SPEC_KEY"),
        BackendOptions(client=ClientSettings(concurrency=1)),
    )
    request = Instance("generate_until", {}, (lm.apply_chat_template(messages), {"until": [], "max_gen_toks": 8}), 0)
    assert lm.generate_until([request], disable_tqdm=True) == [VERDICT.text]
    assert [entry.authorization for entry in server.log] == ["Bearer sk-openai", "Bearer sk-spec", "Bearer sk-spec"]


def test_a_named_variable_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    spec = parse_model_spec("openai-compatible:http://127.0.0.1:9/v1@m?key_env=NOT_SET_KEY")
    with pytest.raises(
        InstructEvalError, match=r"\?key_env names NOT_SET_KEY for .*'s key, but it is not set: export NOT_SET_KEY"
    ):
        resolve_api_key(spec)
    with pytest.raises(
        InstructEvalError, match="--judge-api-key-env names NOT_SET_KEY for openai:gpt-4o-mini's key, but it is not set"
    ):
        resolve_api_key(parse_model_spec("openai:gpt-4o-mini"), role="judge", flag_env="NOT_SET_KEY")
    monkeypatch.delenv(OPENAI_KEY_ENV, raising=False)
    monkeypatch.delenv(JUDGE_KEY_ENV, raising=False)
    with pytest.raises(InstructEvalError, match=f"openai:gpt-4o-mini needs an API key: export {OPENAI_KEY_ENV}"):
        resolve_api_key(parse_model_spec("openai:gpt-4o-mini"), role="judge")


def test_key_variables_in_specs_round_trip_and_are_checked() -> None:
    spec = parse_model_spec("openai-compatible:https://api.example.com/v1@org/model?key_env=EXAMPLE_KEY")
    assert (spec.name, spec.key_env, spec.api_base_url) == ("org/model", "EXAMPLE_KEY", "https://api.example.com/v1")
    assert parse_model_spec(str(spec)) == spec and spec.slug == "org--model"
    assert str(parse_model_spec("openai:gpt-4o?key_env=K")) == "openai:gpt-4o?key_env=K"
    with pytest.raises(UnknownModelSpec, match="takes no API key"):
        parse_model_spec("hf:some/model?key_env=K")
    with pytest.raises(UnknownModelSpec, match="not an environment variable name"):
        parse_model_spec("openai:gpt-4o?key_env=1-bad")
    with pytest.raises(InstructEvalError, match="--judge-api-key-env"):
        JudgeOptions(judges=("openai:gpt-4o",), api_key_env="no spaces")
    assert "sk-secret" not in repr(ApiKey("sk-secret", "MY_KEY")) and "MY_KEY" in repr(ApiKey("sk-secret", "MY_KEY"))


def test_a_refused_key_stops_the_run_naming_the_variable(all_keys: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [sample("d1", "informative", "An answer.")])
    with JudgeServer(lambda request: Reply(status=401)) as refusing:
        with pytest.raises(
            InstructEvalError, match=f"refused the API key .*: set {JUDGE_KEY_ENV} or {OPENAI_KEY_ENV}$"
        ):
            grade_run(run, JudgeOptions(judges=(refusing.judge_spec(),), use_cache=False))
        with pytest.raises(InstructEvalError, match=r"refused the API key .*: set FLAG_KEY$"):
            grade_run(run, JudgeOptions(judges=(refusing.judge_spec(),), use_cache=False, api_key_env="FLAG_KEY"))


def test_connections_are_kept_alive_and_shared(server: JudgeServer, tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [sample(f"d{i}", "informative", f"Answer {i}.") for i in range(10)])
    report = grade_run(
        run, JudgeOptions(judges=(server.judge_spec(),), concurrency=2, use_cache=False, calibration=False)
    )
    assert report.complete and len(server.log) == 20
    assert server.connections_opened <= 2 and server.peak_in_flight <= 2


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= (retry_after_seconds({"retry-after": in_ten}) or 0.0) <= 10.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_the_proxy_from_the_environment_is_used(
    server: JudgeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HTTP_PROXY is read once per client; the stand-in server answers as the proxy for a host that does not exist."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy", OPENAI_KEY_ENV, JUDGE_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base_url.removesuffix("/v1"))
    assert judged_with(server, tmp_path / "run", "openai-compatible:http://judge.invalid/v1@judge") == {"Bearer EMPTY"}
    monkeypatch.setenv("NO_PROXY", "judge.invalid")
    assert proxy_for("http://judge.invalid/v1/chat/completions") is None
