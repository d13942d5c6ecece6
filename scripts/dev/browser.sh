# shellcheck shell=bash
# What the browser tests need: Debian's Chromium, Korean fonts for the screenshots, Playwright.

ensure_browser() {
  step "browser test tools"
  if [[ -x $PLAYWRIGHT_CHROMIUM ]]; then
    skip "chromium: present"
  else
    apt_install chromium
  fi
  # Korean glyphs for the screenshots the browser tests take (a real user's system has them).
  if fc-list 2>/dev/null | grep -qi -e nanum -e 'noto sans cjk'; then
    skip "Korean fonts: present"
  else
    apt_install fonts-nanum
  fi
  have npm || apt_install nodejs npm
  if [[ -d end2end/node_modules/@playwright/test && end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]]; then
    skip "playwright: present"
  else
    # Installs the test runner only: it downloads no browser (Debian's Chromium is used).
    step "installing Playwright (npm ci)"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
