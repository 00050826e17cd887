// The report page: a photo larger than the limit is drawn smaller (JPEG, at most 1600 px a side, then
// smaller still) before it is sent, so a phone camera's 4 MB picture fits. Without the browser's canvas
// and DataTransfer the photo goes as it is, and the server refuses one too large with a message.
(function () {
  "use strict";
  var form = document.querySelector("form[data-photo-max]");
  if (!form || !window.DataTransfer || !window.createImageBitmap) { return; }
  var input = form.querySelector("input[type=file]");
  var submit = form.querySelector("button[type=submit]");
  var max = parseInt(form.getAttribute("data-photo-max"), 10);
  if (!input || !max) { return; }

  function shrink(bitmap, side) {
    var scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      if (blob && blob.size > max && side > 400) { shrink(bitmap, Math.round(side * 0.75)); return; }
      if (blob) {
        var files = new DataTransfer();
        files.items.add(new File([blob], "photo.jpg", { type: "image/jpeg" }));
        input.files = files.files;
      }
      submit.disabled = false;
    }, "image/jpeg", 0.8);
  }

  input.addEventListener("change", function () {
    var file = input.files[0];
    if (!file || file.size <= max) { return; }
    submit.disabled = true;
    createImageBitmap(file).then(function (bitmap) { shrink(bitmap, 1600); }, function () { submit.disabled = false; });
  });
}());
