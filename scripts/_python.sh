# Shared by scripts/dev.sh, scripts/test.sh and .ci/run; source it, don't run it.
#
#   source scripts/_python.sh
#   tend_venv            # sets TEND_ROOT and TEND_PY (the .venv's python)
#
# It finds a Python 3.12+ interpreter (or takes $PYTHON), keeps .venv on it,
# and installs the project in editable mode with its dev extras. The install
# is skipped while pyproject.toml is unchanged since the last one.

TEND_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEND_VENV="$TEND_ROOT/.venv"
TEND_PY="$TEND_VENV/bin/python"
TEND_STAMP="$TEND_VENV/.tend-install-stamp"

tend_say() { printf 'tend: %s\n' "$*" >&2; }

# True if "$1" runs and is Python 3.12 or newer. Running it (rather than
# looking at its name) rules out pyenv shims that exist but refuse to start.
tend_python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

tend_find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        if tend_python_ok "$PYTHON"; then
            printf '%s\n' "$PYTHON"
            return 0
        fi
        tend_say "PYTHON=$PYTHON is not a working Python 3.12 or newer."
        return 1
    fi

    local candidate
    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && tend_python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done

    local pyenv_root=""
    if command -v pyenv >/dev/null 2>&1; then
        pyenv_root="$(pyenv root 2>/dev/null || true)"
    fi
    [[ -z "$pyenv_root" && -d "$HOME/.pyenv" ]] && pyenv_root="$HOME/.pyenv"
    if [[ -n "$pyenv_root" ]]; then
        # Newest first: sort the version folders in reverse version order.
        while IFS= read -r candidate; do
            if [[ -x "$candidate" ]] && tend_python_ok "$candidate"; then
                printf '%s\n' "$candidate"
                return 0
            fi
        done < <(printf '%s\n' "$pyenv_root"/versions/3.1[2-9]*/bin/python3 | sort -r -V)
    fi

    tend_say "Tend needs Python 3.12 or newer, and none was found"
    tend_say "(tried python3.13, python3.12, python3 and pyenv's versions)."
    tend_say "Install Python 3.12+ or point to one: PYTHON=/path/to/python3.12 $0"
    return 1
}

# The venv is usable if its python runs, is 3.12+, and its scripts point at
# this folder (a moved venv keeps the old paths in every script's shebang).
tend_venv_ok() {
    [[ -x "$TEND_PY" ]] || return 1
    tend_python_ok "$TEND_PY" || return 1
    "$TEND_PY" -m pip --version >/dev/null 2>&1 || return 1
    if [[ -f "$TEND_VENV/bin/pip" ]]; then
        local shebang
        IFS= read -r shebang <"$TEND_VENV/bin/pip" || return 1
        [[ "$shebang" == "#!$TEND_VENV/bin/"* ]] || return 1
    fi
    # An explicit $PYTHON of another version asks for a new venv.
    if [[ -n "${PYTHON:-}" ]]; then
        local wanted have
        wanted="$("$PYTHON" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)" || return 1
        have="$("$TEND_PY" -c 'import sys; print(sys.version_info[:2])')" || return 1
        [[ "$wanted" == "$have" ]] || return 1
    fi
    return 0
}

tend_stamp_value() {
    "$TEND_PY" - "$TEND_ROOT/pyproject.toml" <<'EOF'
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f"{sys.version_info[0]}.{sys.version_info[1]} {digest}")
EOF
}

tend_venv() {
    if ! tend_venv_ok; then
        local python
        python="$(tend_find_python)" || return 1
        if [[ -e "$TEND_VENV" ]]; then
            tend_say "Recreating .venv (missing, broken, moved or older than Python 3.12)."
            rm -rf "$TEND_VENV"
        fi
        tend_say "Creating .venv with $python ($("$python" --version 2>&1))."
        "$python" -m venv "$TEND_VENV" || return 1
    fi

    local stamp
    stamp="$(tend_stamp_value)" || return 1
    if [[ -f "$TEND_STAMP" && "$(<"$TEND_STAMP")" == "$stamp" ]] &&
        "$TEND_PY" -c 'import importlib.metadata as m; m.distribution("tend")' >/dev/null 2>&1; then
        return 0
    fi
    tend_say "Installing Tend and its dependencies into .venv (the first time takes a minute)..."
    rm -f "$TEND_STAMP"
    (cd "$TEND_ROOT" && "$TEND_PY" -m pip install --quiet --disable-pip-version-check \
        -e '.[dev]') || {
        tend_say "Installing the dependencies failed (see above)."
        return 1
    }
    printf '%s\n' "$stamp" >"$TEND_STAMP"
}

# Sourced from a script that uses `set -u`: keep the variables defined.
export TEND_ROOT TEND_PY
