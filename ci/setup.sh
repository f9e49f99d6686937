# shellcheck shell=bash
# Sourced by every Python job (before_script): a .venv with the project installed, made by the
# same `make install` a user runs. The GitLab cache keeps .venv and the pip cache, so a warm job
# only re-checks the pins (a few seconds) instead of downloading and installing everything.
#
# CI_REUSE_VENV=/path/to/.venv (local runs only, e.g. tests/ci under gitlab-ci-local): link an
# existing venv instead of installing into every job's build folder (jobs then use the
# host's Python and packages; a real runner installs from the pip cache).

export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$PWD/.cache/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ -n "${CI_REUSE_VENV:-}" ]; then
  # No .venv link in the build folder: the GitLab cache would copy the whole venv.
  venv="$CI_REUSE_VENV"
  # Don't let make reinstall into a venv this job doesn't own: a fresh stamp of our own.
  touch "$PWD/.ci-venv-reused"
  export MAKEFLAGS="VENV=$venv INSTALL_STAMP=$PWD/.ci-venv-reused${MAKEFLAGS:+ $MAKEFLAGS}"
else
  if [ -e .venv/bin/python ] && ! .venv/bin/python -c "" 2>/dev/null; then
    echo "setup: cached .venv doesn't run with this image's Python; rebuilding it" >&2
    rm -rf .venv
  fi
  if [ -d .venv/bin ]; then
    # The cache may come from another build folder: point script shebangs at this one.
    for script in .venv/bin/*; do
      if [ -f "$script" ] && [ ! -L "$script" ] && head -n 1 "$script" | grep -q '^#!.*/\.venv/bin/python'; then
        sed -i "1s|^#!.*/\.venv/bin/python.*$|#!$PWD/.venv/bin/python|" "$script"
      fi
    done
  fi
  make install
  venv="$PWD/.venv"
fi
export PATH="$venv/bin:$PATH"
# The editable install may point at another checkout (a reused venv, or a cached one made in
# another build folder, where make saw nothing to reinstall): this job's code comes first.
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
python --version
