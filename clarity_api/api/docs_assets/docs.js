// Starts Swagger UI on /docs. A file, not an inline script, so the page's
// Content-Security-Policy can allow scripts from this origin only.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // The validator badge would load an image from validator.swagger.io.
    validatorUrl: null,
  });
});
