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
  if wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    skip "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
  else
    # Not --locked: its lock file wants a crate version the registry no longer serves.
    step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (~2 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

# cargo-leptos runs `./dev serve` (it rebuilds and reloads on every change); nothing else needs
# it, so a bare machine's `./dev test` does not wait the ~17 minutes its install takes.
ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    skip "cargo-leptos $CARGO_LEPTOS_VERSION: present"
  else
    # --locked: newer dependency versions need a newer rustc. no_downloads: look tools up on
    # PATH instead of downloading them (this network only reaches package registries).
    step "installing cargo-leptos $CARGO_LEPTOS_VERSION (compiles for ~13-17 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
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

# The release site, as `./dev serve --release` runs it and the benchmark checks it: optimised
# server, wasm-opt'd bundle, compressed copies.
build_release_site() {
  build_site_bundle
  precompress_site
  step "building the release server"
  cargo build --release -p server --bin server
}

# What the browser tests need: the release bundle as above, beside the debug server (built
# here if the server tests have not built it already).
build_test_site() {
  build_site_bundle
  precompress_site
  step "building the debug server"
  cargo build -p server --bin server
}

# The site as `cargo leptos build --release --frontend-only` lays it out, from the same settings
# (the workspace's [package.metadata.leptos]) and into the same target directory, so either
# reuses the other's build: /pkg/coupon.{js,wasm,css} and the assets at the site root. Not done
# here: minifying the JS and the CSS (about 4 KB gzip between them; the wasm is the same).
build_site_bundle() {
  ensure_wasm_opt
  local site=target/site pkg=target/site/pkg front=target/front
  step "building the release bundle (wasm, profile wasm-release)"
  cargo build -p app --lib --target wasm32-unknown-unknown --profile wasm-release \
    --no-default-features --features hydrate --target-dir "$front"
  step "wasm-bindgen, then wasm-opt (the flags of wasm-opt-features in Cargo.toml)"
  rm -rf "$pkg"
  mkdir -p "$pkg"
  wasm-bindgen --target=web --out-name=coupon --out-dir="$pkg" \
    "$front/wasm32-unknown-unknown/wasm-release/app.wasm"
  mv "$pkg/coupon_bg.wasm" "$pkg/coupon.wasm"
  local -a wasm_opt_flags
  read -r -a wasm_opt_flags < <(wasm_opt_features)
  ((${#wasm_opt_flags[@]} > 0)) || die "no wasm-opt-features found in Cargo.toml"
  wasm-opt "${wasm_opt_flags[@]}" "$pkg/coupon.wasm" -o "$pkg/coupon.wasm"
  cp style/main.css "$pkg/coupon.css"
  cp -R public/. "$site/"
}

# The wasm-opt-features list of Cargo.toml, one line, space separated.
wasm_opt_features() {
  sed -n 's/^wasm-opt-features = \[\(.*\)\]/\1/p' "$ROOT/Cargo.toml" | tr -d '",'
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
