# shellcheck shell=bash
# The Rust tools and the release build of the site (server + wasm, compressed), installed and
# built only when missing or out of date.

ensure_rust_tools() {
  step "Rust tools"
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    skip "wasm32-unknown-unknown target: present"
  else
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    skip "cargo-leptos $CARGO_LEPTOS_VERSION: present"
  else
    # --locked: newer dependency versions need a newer rustc. no_downloads: look tools up on
    # PATH instead of downloading them (this network only reaches package registries).
    step "installing cargo-leptos $CARGO_LEPTOS_VERSION (compiles for ~13-17 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  if wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    skip "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
  else
    # Not --locked: its lock file wants a crate version the registry no longer serves.
    step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (~2 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_wasm_opt() {
  # Release builds optimise the wasm with wasm-opt; Debian's binaryen 108 breaks Leptos 0.8
  # bundles. binaryen 116 from `cargo install wasm-opt` is used where it is installed already;
  # otherwise binaryen 132's Node build from npm, which installs in seconds where the crate
  # compiles for about seven minutes (both verified on this project's bundle: toolchain notes).
  if wasm-opt --version 2>/dev/null | grep -q "version 116"; then
    skip "wasm-opt 116: present"
    return
  fi
  local tools="$STATE/tools/binaryen"
  if ! "$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version 132"; then
    have npm || apt_install nodejs npm
    step "installing wasm-opt 132 (npm package binaryen@132.0.0, into $tools)"
    mkdir -p "$tools"
    (cd "$tools" && npm install --no-audit --no-fund --loglevel=error binaryen@132.0.0 >/dev/null)
  else
    skip "wasm-opt 132 (npm): present"
  fi
  # Only for the build that follows, in this step's own shell.
  export PATH="$tools/node_modules/.bin:$PATH"
}

# The release site, as `./dev serve --release` runs it and the browser tests and the benchmark
# check it: optimised server, wasm-opt'd bundle, compressed copies.
build_release_site() {
  ensure_wasm_opt
  step "building the release site (server + wasm)"
  cargo leptos build --release
  precompress_site
}

# What the browser tests need: the release bundle as above, beside the debug server (built
# here if the server tests have not built it already).
build_test_site() {
  ensure_wasm_opt
  step "building the release bundle (wasm) and the debug server"
  cargo leptos build --release --frontend-only
  precompress_site
  cargo build -p server --bin server
}

# Release builds go out compressed: beside every file of the site, a gzip copy (zopfli: about 4%
# smaller than gzip -9, ~3 s for the wasm) and a brotli copy. The server sends whichever the
# browser accepts (leptos_axum's file handler looks for them); without them, the browser would
# download the 1 MB wasm bundle as it is.
precompress_site() {
  have zopfli || apt_install zopfli
  have brotli || apt_install brotli
  step "compressing the site for the browser (gzip by zopfli, brotli)"
  local file
  while IFS= read -r -d '' file; do
    zopfli --gzip -c "$file" >"$file.gz"
    brotli --best --force --output="$file.br" "$file"
  done < <(find target/site -type f ! -name '*.gz' ! -name '*.br' -print0)
  skip "wasm bundle: $(wc -c <target/site/pkg/coupon.wasm.gz) bytes gzip, $(wc -c <target/site/pkg/coupon.wasm.br) bytes brotli"
}
