// Draws the API reference with Redoc (templates/drf_spectacular/redoc.html). Redoc writes its
// styles as it draws: it marks them with the page's nonce, so the Content-Security-Policy lets
// them in, and nothing else inline.
const element = document.getElementById("redoc-container");
Redoc.init(element.dataset.specUrl, { nonce: element.dataset.nonce }, element);
