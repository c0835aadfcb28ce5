/* A server callback answered 401: this browser's sign-in has ended (idle timeout, sign-out elsewhere, account
 * disabled). Go to the sign-in page, and come back here after it, instead of a button that silently does nothing.
 * Dash's renderer sends its callbacks with fetch, so watching fetch sees them all.
 * This script runs on every page, which has no config to read paths from: SIGN_IN is urls.SIGN_IN
 * (monitor/web/urls.py), and tests/test_web_names.py checks that they agree. */
(function () {
  const SIGN_IN = "/login";
  const fetchFirst = window.fetch.bind(window);
  window.fetch = async function (resource, options) {
    const response = await fetchFirst(resource, options);
    const url = typeof resource === "string" ? resource : (resource && resource.url) || "";
    if (response.status === 401 && url.includes("_dash-update-component")) {
      window.location.assign(SIGN_IN + "?next=" + encodeURIComponent(window.location.pathname));
    }
    return response;
  };
})();
