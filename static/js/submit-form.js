// Posts the page's one form at once: the pages that only pass the browser on with a signed form
// (to ECPay, and the simulator back to us). A file, never an inline <script>: the
// Content-Security-Policy lets no inline script run. Without script, the form's button does it.
document.forms[0].submit();
