// Reports 25 / 50 / 75 / 100 % of a page's video watched, once each (video_progress events).
(function () {
  "use strict";
  document.querySelectorAll("video[data-progress-url]").forEach(function (video) {
    var sent = {};
    var token = document.querySelector("#video-progress-form [name=csrfmiddlewaretoken]");
    video.addEventListener("timeupdate", function () {
      if (!video.duration) { return; }
      var watched = (video.currentTime / video.duration) * 100;
      [25, 50, 75, 100].forEach(function (mark) {
        if (watched >= mark - 0.5 && !sent[mark]) {
          sent[mark] = true;
          var body = new FormData();
          body.append("percent", String(mark));
          fetch(video.dataset.progressUrl, {
            method: "POST", body: body, credentials: "same-origin",
            headers: {"X-CSRFToken": token ? token.value : ""}
          });
        }
      });
    });
  });
}());
