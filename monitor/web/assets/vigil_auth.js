/* A server callback answered 401: this browser's sign-in has ended (idle timeout, sign-out elsewhere, account
 * disabled). Go to the sign-in page, and come back here after it, instead of a button that silently does nothing.
 * Dash's renderer sends its callbacks with fetch, so watching fetch sees them all. */
(function () {
  const fetchFirst = window.fetch.bind(window);
  window.fetch = async function (resource, options) {
    const response = await fetchFirst(resource, options);
    const url = typeof resource === "string" ? resource : (resource && resource.url) || "";
    if (response.status === 401 && url.includes("_dash-update-component")) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
    return response;
  };
})();
