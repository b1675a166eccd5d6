"""Specification: `python -m kefu.cli customers import` reads its arguments strictly, takes its
token from KEFU_TOKEN before asking, and stays out of every Lambda function's imports."""

import ast
from pathlib import Path

import pytest
from kefu.cli import main as cli

ROOT = Path(__file__).resolve().parents[3]


def test_the_defaults_aim_at_the_local_stack(monkeypatch):
    monkeypatch.delenv("KEFU_API", raising=False)
    args = cli.parse_args(["customers", "import", "c.csv", "--shop", "demo"])
    assert (args.api, args.shop, args.preset, args.mapping) == (cli.DEFAULT_API, "demo", "kefu", {})
    assert args.file == Path("c.csv") and not args.create_tags


def test_columns_are_mapped_with_repeated_map_options():
    args = cli.parse_args(
        [
            "customers", "import", "c.xlsx", "--shop", "demo", "--preset", "youzan",
            "--map", "客户手机=phone", "--map", " 会员等级 = attr:vip_level ",
            "--api", "https://api.example.com/", "--create-tags",
        ]
    )  # fmt: skip
    assert args.mapping == {"客户手机": "phone", "会员等级": "attr:vip_level"}
    assert args.preset == "youzan" and args.create_tags and args.api == "https://api.example.com/"


@pytest.mark.parametrize(
    "argv",
    [
        ["customers", "import", "c.csv"],  # no --shop
        ["customers", "import", "c.csv", "--shop", "demo", "--map", "phone"],
        ["customers", "import", "c.csv", "--shop", "demo", "--map", "=phone"],
        ["customers", "import", "c.csv", "--shop", "demo", "--preset", "taobao"],
        ["customers", "export"],
    ],
)
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_the_token_comes_from_the_environment_without_a_prompt(monkeypatch):
    monkeypatch.setenv("KEFU_TOKEN", "tok-123")
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("prompted"))
    api = cli.Api("http://127.0.0.1:3000", "demo")
    cli.token_for(api, None)
    assert api.token == "tok-123"


def test_without_a_token_it_signs_in_with_a_prompted_password(monkeypatch):
    monkeypatch.delenv("KEFU_TOKEN", raising=False)
    monkeypatch.setattr(cli.getpass, "getpass", lambda *_: "secret")
    api = cli.Api("http://127.0.0.1:3000", "demo")
    signed = []
    monkeypatch.setattr(api, "sign_in", lambda u, pw: signed.append((u, pw)))
    cli.token_for(api, "laoli")
    assert signed == [("laoli", "secret")]


def test_a_missing_file_is_one_line_and_status_1(capsys, monkeypatch):
    monkeypatch.setenv("KEFU_TOKEN", "t")
    assert cli.main(["customers", "import", "/nonexistent.csv", "--shop", "demo"]) == 1
    assert capsys.readouterr().err.strip() == "error: no file /nonexistent.csv"


def test_no_lambda_function_or_layer_module_imports_the_cli():
    sources = list((ROOT / "functions").rglob("*.py"))
    sources += [
        p
        for p in (ROOT / "layers/common/python/kefu").rglob("*.py")
        if "cli" not in p.relative_to(ROOT / "layers/common/python/kefu").parts
    ]
    importers = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.startswith(("kefu.cli", "rich")) for n in names):
                importers.append(str(path))
    assert importers == []
    layer_requirements = (ROOT / "layers/common/requirements.txt").read_text()
    assert "rich" not in layer_requirements and "requests" not in layer_requirements
