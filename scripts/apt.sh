# Sourced by the install scripts: `apt_install SCRIPT PACKAGE...` installs Debian packages
# as root or through password-less sudo, waiting for another apt run's lock and refreshing
# the package lists once if the first try fails (a fresh container has none). It prints why
# and returns non-zero when it cannot.
apt_install() {
  local script=$1
  shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$script: apt-get not found; install $* yourself" >&2
    return 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "$script: need root or password-less sudo to run 'apt-get install $*'" >&2
      return 1
    fi
  fi
  local opts=(-o DPkg::Lock::Timeout=300 -qq)
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${opts[@]}" install -y \
         --no-install-recommends "$@" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${opts[@]}" update >/dev/null \
      || { echo "$script: apt-get update failed" >&2; return 1; }
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${opts[@]}" install -y \
      --no-install-recommends "$@" >/dev/null \
      || { echo "$script: apt-get install $* failed" >&2; return 1; }
  fi
}
