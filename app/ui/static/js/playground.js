// Playground: chat with any model, alias or agent, streamed or not, with tool definitions edited as JSON.
// The assistant's tool calls are shown and answered here; the raw chunks are kept for debugging.

import { ApiError, api, openStream, readEvents } from "./api.js";
import { h, pretty } from "./dom.js";

const SAMPLE_TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather now in a city.",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];

export default {
  title: "Playground",
  mount(root) {
    let messages = [];
    let controller = null;

    const model = h("input", { id: "play-model", list: "play-models", value: "mock/text", autocomplete: "off", spellcheck: false });
    const models = h("datalist", { id: "play-models" });
    const system = h("textarea", { id: "play-system", rows: 2, placeholder: "(none)" });
    const streamed = h("input", { id: "play-stream", type: "checkbox", checked: true });
    const useTools = h("input", { id: "play-use-tools", type: "checkbox", checked: true });
    const tools = h("textarea", { id: "play-tools", class: "code", rows: 14, spellcheck: false, wrap: "off" });
    tools.value = pretty(SAMPLE_TOOLS);
    const thread = h("div", { class: "thread", id: "play-thread", "aria-live": "polite" });
    const prompt = h("textarea", { id: "play-prompt", rows: 3, placeholder: "Message (Ctrl+Enter sends)" });
    const send = h("button", { type: "submit", id: "play-send" }, "Send");
    const stop = h("button", { type: "button", class: "quiet", disabled: true, onclick: () => controller && controller.abort() }, "Stop");
    const problem = h("p", { class: "error", role: "alert" });
    const raw = h("pre", { id: "play-raw" });

    root.append(
      h("h1", { tabindex: -1 }, "Playground"),
      h(
        "div",
        { class: "chat" },
        h(
          "section",
          { class: "panel", "aria-labelledby": "play-conversation" },
          h("div", { class: "row" }, h("h2", { id: "play-conversation" }, "Conversation"), h("span", { class: "spacer" }), h("button", { type: "button", class: "quiet", onclick: restart }, "New conversation")),
          thread,
          h(
            "form",
            { onsubmit: submit },
            h("div", { class: "field" }, h("label", { for: "play-prompt" }, "Message"), prompt),
            h("div", { class: "row" }, send, stop),
            problem,
          ),
        ),
        h(
          "section",
          { class: "panel", "aria-labelledby": "play-settings" },
          h("h2", { id: "play-settings" }, "Request"),
          h("div", { class: "field" }, h("label", { for: "play-model" }, "Model, alias or agent"), model, models),
          h("div", { class: "field" }, h("label", { for: "play-system" }, "System message"), system),
          h("div", { class: "field inline" }, streamed, h("label", { for: "play-stream" }, "Stream the answer")),
          h("div", { class: "field inline" }, useTools, h("label", { for: "play-use-tools" }, "Offer these tools")),
          h("div", { class: "field" }, h("label", { for: "play-tools" }, "Tools (JSON, as in a request's tools)"), tools),
        ),
      ),
      h("details", { class: "panel" }, h("summary", {}, "Raw chunks"), raw),
    );

    api("/admin/models")
      .then((found) => models.replaceChildren(...found.data.map((each) => h("option", { value: each.id }, each.kind))))
      .catch(() => {});

    prompt.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit(event);
      }
    });

    function restart() {
      messages = [];
      thread.replaceChildren();
      raw.textContent = "";
      problem.textContent = "";
    }

    function submit(event) {
      event.preventDefault();
      const text = prompt.value.trim();
      if (!text || send.disabled) return;
      messages.push({ role: "user", content: text });
      thread.append(bubble("user", text));
      prompt.value = "";
      ask();
    }

    function request() {
      const body = { model: model.value.trim(), messages: [...messages] };
      if (system.value.trim()) body.messages.unshift({ role: "system", content: system.value.trim() });
      if (useTools.checked && tools.value.trim()) {
        let parsed;
        try {
          parsed = JSON.parse(tools.value);
        } catch (error) {
          throw new Error(`The tools are not JSON: ${error.message}`);
        }
        if (!Array.isArray(parsed)) throw new Error("The tools must be a JSON array, as in a request's tools.");
        if (parsed.length) body.tools = parsed;
      }
      if (streamed.checked) {
        body.stream = true;
        body.stream_options = { include_usage: true };
      }
      return body;
    }

    async function ask() {
      problem.textContent = "";
      let body;
      try {
        body = request();
      } catch (error) {
        problem.textContent = error.message;
        return;
      }
      const answer = bubble("assistant", "");
      answer.setAttribute("aria-busy", "true");
      thread.append(answer);
      raw.append(`── ${body.model}, ${body.stream ? "streamed" : "not streamed"} ──\n`);
      controller = new AbortController();
      send.disabled = true;
      stop.disabled = false;
      try {
        const message = body.stream ? await streamAnswer(body, answer) : await completeAnswer(body, answer);
        messages.push(message);
        if (message.tool_calls && message.tool_calls.length) answer.append(toolCallsForm(message.tool_calls));
      } catch (error) {
        answer.classList.add("failed");
        const why = error.name === "AbortError" ? "Stopped." : error.message;
        answer.querySelector(".content").textContent += (answer.querySelector(".content").textContent ? "\n" : "") + why;
      } finally {
        answer.removeAttribute("aria-busy");
        send.disabled = false;
        stop.disabled = true;
        controller = null;
      }
    }

    async function completeAnswer(body, answer) {
      const completion = await api("/admin/chat/completions", { method: "POST", body, signal: controller.signal });
      raw.append(`${pretty(completion)}\n`);
      const choice = completion.choices[0];
      const message = choice.message;
      answer.querySelector(".content").textContent = message.content || "";
      note(answer, choice.finish_reason, completion.usage, completion.model);
      return assistantMessage(message.content, message.tool_calls, message.reasoning_content);
    }

    async function streamAnswer(body, answer) {
      const response = await openStream("/admin/chat/completions", { method: "POST", body, signal: controller.signal });
      const content = answer.querySelector(".content");
      let text = "";
      let reasoning = "";
      let finish = null;
      let usage = null;
      let served = null;
      const calls = [];
      await readEvents(response, (_, data) => {
        raw.append(`data: ${data}\n`);
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(500, chunk);
        if (chunk.usage) usage = chunk.usage;
        served = chunk.model || served;
        for (const choice of chunk.choices || []) {
          const delta = choice.delta || {};
          if (delta.content) {
            text += delta.content;
            content.textContent = text;
          }
          if (delta.reasoning_content) reasoning += delta.reasoning_content;
          for (const call of delta.tool_calls || []) {
            const slot = (calls[call.index] ||= { id: "", type: "function", function: { name: "", arguments: "" } });
            if (call.id) slot.id = call.id;
            if (call.function && call.function.name) slot.function.name += call.function.name;
            if (call.function && call.function.arguments) slot.function.arguments += call.function.arguments;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      });
      note(answer, finish, usage, served);
      return assistantMessage(text || null, calls.filter(Boolean), reasoning || null);
    }

    function toolCallsForm(calls) {
      const answers = calls.map((call, index) => {
        const area = h("textarea", { id: `play-result-${index}`, rows: 2, placeholder: 'What the tool returned, e.g. {"temperature": 21}' });
        return {
          call,
          area,
          element: h(
            "div",
            { class: "tool-call", "data-tool-call": call.function.name },
            h("div", {}, "Tool call ", h("strong", { class: "mono" }, call.function.name), h("span", { class: "muted small mono" }, ` ${call.id}`)),
            h("pre", { class: "arguments" }, readable(call.function.arguments)),
            h("label", { for: `play-result-${index}` }, `Result of ${call.function.name}`),
            area,
          ),
        };
      });
      const reply = h("button", { type: "submit", id: "play-send-results" }, "Send tool results");
      const form = h(
        "form",
        {
          onsubmit: (event) => {
            event.preventDefault();
            if (send.disabled) return;
            reply.disabled = true;
            for (const { call, area } of answers) {
              messages.push({ role: "tool", tool_call_id: call.id, content: area.value });
              area.disabled = true;
            }
            for (const { call, area } of answers) thread.append(bubble("tool", `${call.function.name} → ${area.value}`));
            ask();
          },
        },
        answers.map((each) => each.element),
        reply,
      );
      return form;
    }

    return () => controller && controller.abort();
  },
};

function assistantMessage(content, toolCalls, reasoning) {
  const message = { role: "assistant", content };
  if (toolCalls && toolCalls.length) message.tool_calls = toolCalls;
  if (reasoning) message.reasoning_content = reasoning;
  return message;
}

function bubble(role, text) {
  return h("div", { class: `message ${role}` }, h("div", { class: "role" }, role), h("div", { class: "content" }, text));
}

function note(answer, finish, usage, served) {
  const parts = [];
  if (served) parts.push(`model ${served}`);
  if (finish) parts.push(`finish_reason ${finish}`);
  if (usage) parts.push(`${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`);
  if (parts.length) answer.append(h("div", { class: "muted small note" }, parts.join(" · ")));
}

function readable(argumentsText) {
  try {
    return pretty(JSON.parse(argumentsText));
  } catch {
    return argumentsText;
  }
}
