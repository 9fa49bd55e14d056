"""The kit's wrapper modules repeat the target's replace directives (go.mod syntax: single
lines and blocks, with or without a version on either side, comments), never its local ones."""

from __future__ import annotations

from kit.gobuild import replace_directives

GOMOD = """module example.com/target

go 1.26

require example.com/a v1.0.0

replace example.com/single => example.com/fork v1.2.3 // a fork

replace (
\texample.com/old v0.1.0 => example.com/new v0.2.0
\texample.com/local => ./local
\texample.com/parent => ../parent
\texample.com/abs => /abs/path
\t// example.com/commented => example.com/x v1.0.0
\texample.com/pathonly => example.com/other v0.0.0-20260101000000-abcdefabcdef
)

require example.com/after v1.0.0
"""


def test_replace_directives_keep_module_replaces_and_drop_local_paths() -> None:
    assert replace_directives(GOMOD) == {
        "example.com/single": "example.com/fork v1.2.3",
        "example.com/old": "example.com/new v0.2.0",
        "example.com/pathonly": "example.com/other v0.0.0-20260101000000-abcdefabcdef",
    }


def test_no_replace_directives() -> None:
    assert replace_directives("module m\n\ngo 1.26\n\nrequire x v1.0.0\n") == {}
