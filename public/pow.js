// The bot check of the claim page (src/bot_check/): before a claim form that carries
// `bot_challenge` and `bot_nonce` is sent, fetch a challenge for its campaign, find a nonce such
// that SHA-256(challenge + ":" + nonce) starts with `bits` zero bits, fill both in, then send the
// form. Loaded by the claim page of a campaign with a bot check only; kept out of the wasm bundle.
//
// It works before the wasm has loaded (the form then posts as plain HTML) and after (the page's
// own handler sends the same fields): a listener on the window, in the capture phase, holds the
// submit back until the form is solved, then submits it again. A solution is used once; the
// next submit solves again. One solution is prepared as soon as the page shows a claim form, so
// the click seldom waits.
(function () {
  "use strict";
  if (window.couponBotCheck) {
    return;
  }

  var encoder = new TextEncoder();
  // Challenges expire after two minutes: one this close to its end is solved again.
  var FRESH_FOR_MS = 15000;
  // Digests asked of WebCrypto at once: its promises cost more than the hashes, in batches less.
  var BATCH = 256;

  function leadingZeroBits(bytes) {
    var zeros = 0;
    for (var i = 0; i < bytes.length; i++) {
      var byte = bytes[i];
      if (byte === 0) {
        zeros += 8;
        continue;
      }
      return zeros + Math.clz32(byte) - 24;
    }
    return zeros;
  }

  function joined(prefix, nonce) {
    var digits = encoder.encode(String(nonce));
    var message = new Uint8Array(prefix.length + digits.length);
    message.set(prefix);
    message.set(digits, prefix.length);
    return message;
  }

  // The smallest nonce that solves `challenge` at `bits`, as a decimal string.
  async function solve(challenge, bits) {
    var prefix = encoder.encode(challenge + ":");
    var subtle = window.crypto && window.crypto.subtle;
    for (var start = 0; ; start += BATCH) {
      var hashes = [];
      for (var n = start; n < start + BATCH; n++) {
        var message = joined(prefix, n);
        hashes.push(subtle ? subtle.digest("SHA-256", message) : sha256(message));
      }
      hashes = await Promise.all(hashes);
      for (var i = 0; i < hashes.length; i++) {
        if (leadingZeroBits(new Uint8Array(hashes[i])) >= bits) {
          return String(start + i);
        }
      }
    }
  }

  // SHA-256 in plain JavaScript, for pages served over plain http from another host than
  // localhost, where browsers offer no WebCrypto. Slower: a few hundred thousand hashes a second.
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha256(message) {
    var bitLength = message.length * 8;
    var blocks = Math.ceil((message.length + 9) / 64);
    var padded = new Uint8Array(blocks * 64);
    padded.set(message);
    padded[message.length] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
    view.setUint32(padded.length - 4, bitLength >>> 0);
    var h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    var w = new Uint32Array(64);
    for (var block = 0; block < blocks; block++) {
      for (var t = 0; t < 16; t++) {
        w[t] = view.getUint32(block * 64 + t * 4);
      }
      for (t = 16; t < 64; t++) {
        var x = w[t - 15];
        var y = w[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var t1 = (k + S1 + ch + K[t] + w[t]) >>> 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) >>> 0;
        k = g;
        g = f;
        f = e;
        e = (d + t1) >>> 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }
    var out = new Uint8Array(32);
    var outView = new DataView(out.buffer);
    for (var i = 0; i < 8; i++) {
      outView.setUint32(i * 4, h[i]);
    }
    return out;
  }

  // A challenge from the server: {challenge, bits, expires_at (RFC 3339)}.
  async function challengeFor(campaign) {
    var response = await fetch("/api/v1/campaigns/" + encodeURIComponent(campaign) + "/challenge", {
      headers: { accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) {
      throw new Error("no challenge: " + response.status);
    }
    return response.json();
  }

  // Solutions being prepared or ready, one per campaign: a promise of
  // {challenge, nonce, expiresAt}.
  var prepared = {};

  function prepare(campaign) {
    var solution = challengeFor(campaign).then(function (issued) {
      return solve(issued.challenge, issued.bits).then(function (nonce) {
        return {
          challenge: issued.challenge,
          nonce: nonce,
          expiresAt: Date.parse(issued.expires_at),
        };
      });
    });
    prepared[campaign] = solution;
    // A failure is for the click to meet again, not an unhandled rejection now.
    solution.catch(function () {});
    return solution;
  }

  // A solution for the campaign that is still fresh, taken: each is used once.
  async function take(campaign) {
    var solution = null;
    if (prepared[campaign]) {
      solution = await prepared[campaign].catch(function () {
        return null;
      });
    }
    if (!solution || !(solution.expiresAt - Date.now() > FRESH_FOR_MS)) {
      solution = await prepare(campaign);
    }
    delete prepared[campaign];
    return solution;
  }

  function fieldOf(form, name) {
    return form.querySelector('input[name="' + name + '"]');
  }

  function checkedForm(target) {
    if (!(target instanceof HTMLFormElement)) {
      return null;
    }
    return fieldOf(target, "bot_challenge") && fieldOf(target, "bot_nonce") ? target : null;
  }

  function showRunning(form, running) {
    var note = form.querySelector(".bot-check-running");
    if (note) {
      note.hidden = !running;
    }
    form.setAttribute("aria-busy", running ? "true" : "false");
  }

  window.addEventListener(
    "submit",
    function (event) {
      var form = checkedForm(event.target);
      if (!form) {
        return;
      }
      // The submit this script sends itself, solved: let it through (once).
      if (form.dataset.botCheckSolved === "1") {
        delete form.dataset.botCheckSolved;
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      if (form.dataset.botCheckRunning === "1") {
        return;
      }
      form.dataset.botCheckRunning = "1";
      showRunning(form, true);
      var submitter = event.submitter;
      var campaign = fieldOf(form, "campaign_id").value;
      take(campaign)
        .then(
          function (solution) {
            fieldOf(form, "bot_challenge").value = solution.challenge;
            fieldOf(form, "bot_nonce").value = solution.nonce;
          },
          function () {
            // No challenge (the server is busy): send the claim without one, and the page shows
            // the server's answer ("try again").
            fieldOf(form, "bot_challenge").value = "";
            fieldOf(form, "bot_nonce").value = "";
          }
        )
        .then(function () {
          delete form.dataset.botCheckRunning;
          showRunning(form, false);
          form.dataset.botCheckSolved = "1";
          if (typeof form.requestSubmit === "function") {
            form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
          } else {
            delete form.dataset.botCheckSolved;
            form.submit();
          }
        });
    },
    true
  );

  // Prepares a solution for the claim form on the page, so that the click seldom waits.
  function prepareForPage() {
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      var form = checkedForm(forms[i]);
      var id = form && fieldOf(form, "campaign_id");
      if (id && id.value && !prepared[id.value]) {
        prepare(id.value);
        return;
      }
    }
  }

  window.couponBotCheck = { solve: solve, leadingZeroBits: leadingZeroBits, sha256: sha256 };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", prepareForPage);
  } else {
    prepareForPage();
  }
})();
