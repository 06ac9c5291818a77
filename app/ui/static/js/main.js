// The dashboard's entry: asks for the admin key, then shows the page the address names (#/overview, ...)
// over the one live stream every page shares.

import { api, adminKey } from "./api.js";
import config from "./config.js";
import { Live } from "./live.js";
import overview from "./overview.js";
import playground from "./playground.js";
import requests from "./requests.js";
import targets from "./targets.js";
import tools from "./tools.js";

const PAGES = { overview, targets, requests, tools, playground, config };

const nav = document.getElementById("nav");
const session = document.getElementById("session");
const connection = document.getElementById("connection");
const login = document.getElementById("login");
const loginForm = document.getElementById("login-form");
const loginError = document.getElementById("login-error");
const keyInput = document.getElementById("admin-key");
const page = document.getElementById("page");

let live = null;
let unmount = null;

function showLogin(message = "") {
  if (live) live.stop();
  live = null;
  if (unmount) unmount();
  unmount = null;
  page.replaceChildren();
  nav.hidden = true;
  session.hidden = true;
  login.hidden = false;
  loginError.textContent = message;
  document.title = "llm-router";
  keyInput.focus();
}

function showDashboard() {
  login.hidden = true;
  nav.hidden = false;
  session.hidden = false;
  live = new Live();
  live.addEventListener("state", (event) => {
    connection.textContent = event.detail;
    connection.classList.toggle("live", event.detail === "live");
  });
  live.start((error) => {
    adminKey.clear();
    showLogin(error.message);
  });
  route();
}

function route() {
  if (!live) return;
  const name = location.hash.replace(/^#\/?/, "") || "overview";
  const shown = PAGES[name] || PAGES.overview;
  if (unmount) unmount();
  page.replaceChildren();
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${shown.title} · llm-router`;
  page.dataset.page = name;
  unmount = shown.mount(page, { live });
  const heading = page.querySelector("h1");
  if (heading && document.activeElement && document.activeElement.closest("nav")) heading.focus();
}

async function open(key) {
  adminKey.set(key);
  try {
    await api("/admin/overview");
  } catch (error) {
    adminKey.clear();
    showLogin(error.message);
    return;
  }
  keyInput.value = "";
  showDashboard();
}

loginForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (key) open(key);
});

document.getElementById("logout").addEventListener("click", () => {
  adminKey.clear();
  showLogin();
});

window.addEventListener("hashchange", route);

if (adminKey.get()) open(adminKey.get());
else showLogin();
