# Sourced by the repo's scripts: `venv_install EXTRA` makes .venv (with $PYTHON, default
# python3) when missing and installs the package editable with that extra.
venv_install() {
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
}
