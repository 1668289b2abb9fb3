// Camera scanning, a progressive enhancement of the desk scan box.
// The button appears only when the browser can open a camera (getUserMedia: HTTPS or localhost).
// Decoding: the browser's BarcodeDetector when it reads QR codes, otherwise jsQR (vendored,
// loaded on first use). On a decode, the text goes into the box and the form is submitted:
// the server then does exactly what it does for a USB scanner.
(function () {
  "use strict";
  var start = document.getElementById("camera-start");
  var panel = document.getElementById("camera");
  var video = document.getElementById("camera-video");
  var stopButton = document.getElementById("camera-stop");
  var status = document.getElementById("camera-status");
  var form = document.getElementById("scan-form");
  var input = form && form.querySelector(".scan-input");
  if (!start || !panel || !video || !form || !input) return;
  if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) return;
  start.hidden = false;

  var stream = null;
  var running = false;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });

  function say(text) { status.textContent = text; }

  function nativeDetector() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    return window.BarcodeDetector.getSupportedFormats()
      .then(function (formats) {
        return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      })
      .catch(function () { return null; });
  }

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = start.getAttribute("data-decoder");
      script.onload = function () { window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR")); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // A function (video → Promise of the decoded text or null).
  function makeReader() {
    return nativeDetector().then(function (detector) {
      if (detector) {
        return function () {
          return detector.detect(video).then(function (codes) {
            return codes.length ? codes[0].rawValue : null;
          });
        };
      }
      return loadJsQR().then(function (jsQR) {
        return function () {
          var width = video.videoWidth, height = video.videoHeight;
          if (!width || !height) return Promise.resolve(null);
          // Downscale large frames: faster, and QR codes stay readable.
          var scale = Math.min(1, 640 / Math.max(width, height));
          canvas.width = Math.round(width * scale);
          canvas.height = Math.round(height * scale);
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = context.getImageData(0, 0, canvas.width, canvas.height);
          var code = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
          return Promise.resolve(code ? code.data : null);
        };
      });
    });
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.srcObject = null;
    panel.hidden = true;
    start.hidden = false;
  }

  function loop(read) {
    if (!running) return;
    read().then(function (text) {
      if (!running) return;
      if (text) {
        stop();
        input.value = text;
        say(start.getAttribute("data-found") || "");
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      } else {
        window.requestAnimationFrame(function () { loop(read); });
      }
    }, function () {
      if (running) window.requestAnimationFrame(function () { loop(read); });
    });
  }

  start.addEventListener("click", function () {
    say(start.getAttribute("data-opening") || "");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        panel.hidden = false;
        start.hidden = true;
        running = true;
        return video.play().then(makeReader).then(function (read) {
          say(start.getAttribute("data-ready") || "");
          loop(read);
        });
      })
      .catch(function () {
        stop();
        say(start.getAttribute("data-failed") || "");
        input.focus();
      });
  });

  stopButton.addEventListener("click", function () {
    stop();
    say("");
    input.focus();
  });
})();
