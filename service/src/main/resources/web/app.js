// The page: submits a job, follows its progress stream (server-sent events), shows the latent preview, the
// image and a gallery of recent results. Plain JavaScript, served by the service itself.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null;   // {id, events}

async function loadInfo() {
  const info = await (await fetch("/api/info")).json();
  $("model").textContent = info.model;
  $("steps").value = info.steps;
  $("steps").max = info.max_steps;
  $("guidance").value = info.guidance;
  $("width").value = info.width;
  $("height").value = info.height;
  for (const name of info.schedulers) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    $("scheduler").appendChild(option);
  }
}

function request() {
  const body = {
    prompt: $("prompt").value,
    steps: Number($("steps").value),
    guidance: Number($("guidance").value),
    width: Number($("width").value),
    height: Number($("height").value),
  };
  if ($("negative").value) body.negative_prompt = $("negative").value;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  if ($("scheduler").value) body.scheduler = $("scheduler").value;
  return body;
}

async function submit(event) {
  event.preventDefault();
  $("error").textContent = "";
  const response = await fetch("/api/jobs", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(request()),
  });
  const answer = await response.json();
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    $("error").textContent = answer.error + (retry ? " (retry after " + retry + " s)" : "");
    return;
  }
  follow(answer);
}

function follow(job) {
  if (current) current.events.close();   // the page follows one job; the old one goes on unwatched
  const events = new EventSource("/api/jobs/" + job.id + "/events");
  current = {id: job.id, events};
  $("cancel").disabled = false;
  $("result").removeAttribute("src");
  show(job);
  events.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  events.onerror = () => { if (current && current.events === events && events.readyState === EventSource.CLOSED) end(); };
}

function show(job) {
  if (!current || job.id !== current.id) return;
  $("progress").max = job.steps;
  $("progress").value = job.step;
  $("progress-text").textContent = job.state + " " + job.step + "/" + job.steps;
  $("state").textContent = job.state + (job.error ? ": " + job.error : "");
  if (job.preview) $("preview").src = job.preview;
  if (job.state === "done") {
    $("result").src = job.image;
    loadGallery();
  }
  if (!["queued", "running"].includes(job.state)) end();
}

function end() {
  if (!current) return;
  current.events.close();   // otherwise EventSource reconnects when the server ends the stream
  $("cancel").disabled = true;
}

async function cancel() {
  if (!current) return;
  const response = await fetch("/api/jobs/" + current.id, {method: "DELETE"});
  show(await response.json());
}

async function loadGallery() {
  const jobs = await (await fetch("/api/recent")).json();
  const gallery = $("gallery");
  gallery.replaceChildren(...jobs.map((job) => {
    const img = document.createElement("img");
    img.src = job.image;
    img.title = job.prompt + " (seed " + job.seed + ", " + job.steps + " steps)";
    img.className = "gallery-item";
    return img;
  }));
}

$("form").addEventListener("submit", submit);
$("cancel").addEventListener("click", cancel);
loadInfo();
loadGallery();
