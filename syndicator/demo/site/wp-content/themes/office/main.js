document.addEventListener('DOMContentLoaded', function () {
  var banner = document.querySelector('.cookie-banner');
  if (banner && localStorage.getItem('cookies-answered')) { banner.remove(); }
  document.querySelectorAll('.cookie-banner button').forEach(function (b) {
    b.addEventListener('click', function () { localStorage.setItem('cookies-answered', '1'); banner.remove(); });
  });
});
