// mentiondesk console: the small script behind the local web page.
//
// The page is rendered by the server; this script only adds the agent's name, the button
// clicks (sent to the JSON API), the reply and escalate forms, private toasts and live
// updates over server-sent events. It keeps no case state: every card it shows comes from
// the server, so a reload always shows the truth.
(function () {
  'use strict';

  var AGENT_KEY = 'mentiondesk.agent';
  var SEEN_KEY = 'mentiondesk.seen';
  // The "Skipped" review is a view of the store, not a channel: it lists posts triage did
  // not card and refreshes the whole list after a change.
  var onSkipped = document.body.getAttribute('data-view') === 'skipped';
  var currentChannel = onSkipped ? '' : (document.body.getAttribute('data-channel') || 'mentions');
  var cardsElement = document.getElementById('cards');
  var emptyElement = document.getElementById('empty');
  var toastsElement = document.getElementById('toasts');
  var agentDialog = document.getElementById('agent-dialog');
  var agentForm = document.getElementById('agent-form');
  var agentInput = document.getElementById('agent-input');
  var agentNameElement = document.getElementById('agent-name');
  var noticesElement = document.getElementById('notices');
  var noticeListElement = document.getElementById('notice-list');
  var NOTICES_SHOWN = 5;

  // The agent's name, kept in this browser only.

  function agentName() {
    try {
      return (localStorage.getItem(AGENT_KEY) || '').trim();
    } catch (error) {
      return '';
    }
  }

  function showAgent() {
    var name = agentName();
    agentNameElement.textContent = name || '\u2014';
  }

  function askAgent() {
    agentInput.value = agentName();
    if (typeof agentDialog.showModal === 'function') {
      agentDialog.showModal();
    } else {
      var answer = window.prompt('Your name', agentInput.value);
      if (answer && answer.trim()) {
        localStorage.setItem(AGENT_KEY, answer.trim());
        showAgent();
      }
    }
    setTimeout(function () { agentInput.focus(); }, 0);
  }

  agentForm.addEventListener('submit', function (event) {
    var name = agentInput.value.trim();
    if (!name) {
      event.preventDefault();
      return;
    }
    localStorage.setItem(AGENT_KEY, name);
    showAgent();
  });
  agentDialog.addEventListener('cancel', function (event) {
    // Nobody may work anonymously: the name is needed for every action.
    if (!agentName()) event.preventDefault();
  });
  document.getElementById('agent-change').addEventListener('click', askAgent);

  // Toasts: private notices shown only in the browser of the agent who clicked.

  function toast(message, isError) {
    var element = document.createElement('div');
    element.className = 'toast' + (isError ? ' error' : '');
    element.textContent = message;
    toastsElement.appendChild(element);
    setTimeout(function () { element.remove(); }, isError ? 7000 : 4500);
  }

  // Channel tabs and their unread counts.

  function readSeen() {
    try {
      return JSON.parse(localStorage.getItem(SEEN_KEY) || '{}') || {};
    } catch (error) {
      return {};
    }
  }

  function writeSeen(seen) {
    try {
      localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
    } catch (error) {
      // Storage may be full or disabled; unread counts are a convenience only.
    }
  }

  function updateBadges() {
    var seen = readSeen();
    var tabs = document.querySelectorAll('.tab[data-channel]');
    for (var index = 0; index < tabs.length; index++) {
      var tab = tabs[index];
      var channel = tab.getAttribute('data-channel');
      var badge = tab.querySelector('.badge');
      if (!badge) continue;
      var count = parseInt(badge.getAttribute('data-count') || '0', 10);
      if (channel === currentChannel) {
        seen[channel] = count;
      }
      var unread = Math.max(0, count - (seen[channel] || 0));
      if (unread > 0) {
        badge.textContent = String(unread);
        badge.classList.add('unread');
        badge.title = unread + ' unread of ' + count;
      } else {
        badge.textContent = String(count);
        badge.classList.remove('unread');
        badge.title = count + (count === 1 ? ' card' : ' cards');
      }
    }
    writeSeen(seen);
  }

  function bumpCount(channel) {
    var badge = document.querySelector('.tab[data-channel="' + cssEscape(channel) + '"] .badge');
    if (!badge) return;
    var count = parseInt(badge.getAttribute('data-count') || '0', 10) + 1;
    badge.setAttribute('data-count', String(count));
    updateBadges();
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, '\\$&');
  }

  // The JSON API.

  function postAction(body) {
    body.agent = agentName();
    return fetch('/api/actions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, body: json };
      });
    });
  }

  function getJson(url) {
    return fetch(url, { credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('request failed with status ' + response.status);
      return response.json();
    });
  }

  function errorText(result) {
    var body = result.body || {};
    return body.message || body.error || ('The action failed (status ' + result.status + ').');
  }

  // Card buttons.

  cardsElement.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-payload]');
    if (!button || !cardsElement.contains(button)) return;
    if (!agentName()) {
      askAgent();
      return;
    }
    var card = button.closest('.card');
    var action = button.getAttribute('data-action');
    var payload = button.getAttribute('data-payload');
    if (action === 'reply' || action === 'edit') {
      openReplyForm(card, payload);
    } else if (action === 'escalate') {
      openEscalateForm(card, payload);
    } else {
      var body = { payload: payload };
      if (action === 'reject') {
        // An optional reason for the draft's author; cancelling the prompt rejects nothing.
        var reason = window.prompt('Reject the draft. Reason for its author (optional):', '');
        if (reason === null) return;
        body.note = reason;
      }
      button.disabled = true;
      postAction(body).then(function (result) {
        button.disabled = false;
        handleSimpleOutcome(result);
      }, function () {
        button.disabled = false;
        toast('The console server cannot be reached.', true);
      });
    }
  });

  function handleSimpleOutcome(result) {
    var body = result.body || {};
    if (body.outcome === 'done') {
      if (body.notice) toast(body.notice, false);
    } else {
      toast(errorText(result), true);
    }
    // Marked (or found marked by someone else): the list shows what became of the post.
    if (onSkipped) refreshSkipped();
  }

  var skippedRefresh = null;
  function refreshSkipped() {
    if (skippedRefresh) return skippedRefresh;
    skippedRefresh = fetch('/fragments/skipped', { credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('skipped list failed with status ' + response.status);
      return response.text();
    }).then(function (html) {
      skippedRefresh = null;
      cardsElement.innerHTML = html;
      emptyElement.hidden = html.trim() !== '';
    }, function () {
      // Repaired by the next change or a reload.
      skippedRefresh = null;
    });
    return skippedRefresh;
  }

  function formSlot(card) {
    return card.querySelector('.form-slot');
  }

  function closeForm(card) {
    var slot = formSlot(card);
    if (slot) slot.textContent = '';
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    for (var name in attributes) {
      if (Object.prototype.hasOwnProperty.call(attributes, name)) node.setAttribute(name, attributes[name]);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // An approximation of the server's count (domain::text::reply_length): graphemes on
  // Bluesky; on Mastodon and X a link counts 23 whatever its length. The server decides.
  function replyLength(network, text) {
    if (network !== 'bluesky') {
      text = text.replace(/https?:\/\/\S+/g, new Array(24).join('x'));
    }
    return graphemeCount(text);
  }

  function graphemeCount(text) {
    if (window.Intl && Intl.Segmenter) {
      var count = 0;
      var iterator = new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)[Symbol.iterator]();
      while (!iterator.next().done) count++;
      return count;
    }
    return Array.from(text).length;
  }

  function openReplyForm(card, payload) {
    var slot = formSlot(card);
    var caseId = card.getAttribute('data-case');
    var formUrl = '/api/cases/' + encodeURIComponent(caseId) + '/reply-form?agent=' + encodeURIComponent(agentName());
    getJson(formUrl).then(function (info) {
      slot.textContent = '';
      var form = element('form', { 'class': 'card-form reply-form', 'data-payload': payload });
      form.appendChild(element('h3', {}, 'Reply publicly on ' + info.network));
      var fieldId = 'reply-' + card.getAttribute('data-message-id');
      form.appendChild(element('label', { 'for': fieldId }, 'Reply text (posted publicly as the brand)'));
      var textarea = element('textarea', { id: fieldId, name: 'text', required: 'required' });
      var editing = payload.indexOf('edit:') === 0;
      textarea.value = editing ? (info.awaiting_approval || '') : (info.draft || info.prefill || '');
      var saved = info.saved || [];
      if (saved.length > 0) {
        // Saved replies arrive filled in by the server; picking one replaces the text.
        var pickerId = 'saved-' + card.getAttribute('data-message-id');
        form.appendChild(element('label', { 'for': pickerId }, 'Saved reply'));
        var picker = element('select', { id: pickerId, name: 'saved', 'class': 'saved-replies' });
        picker.appendChild(element('option', { value: '' }, 'Write my own'));
        saved.forEach(function (reply, index) {
          picker.appendChild(element('option', { value: String(index) }, reply.name));
        });
        picker.addEventListener('change', function () {
          var chosen = saved[Number(picker.value)];
          textarea.value = picker.value === '' || !chosen ? (info.prefill || '') : chosen.text;
          textarea.dispatchEvent(new Event('input'));
          textarea.focus();
        });
        form.appendChild(picker);
      }
      form.appendChild(textarea);
      var counter = element('div', { 'class': 'counter', 'aria-live': 'polite' });
      form.appendChild(counter);
      var problem = element('p', { 'class': 'form-error', hidden: 'hidden' });
      form.appendChild(problem);
      var warning = element('div', { 'class': 'form-warning', hidden: 'hidden' });
      form.appendChild(warning);
      var actions = element('div', { 'class': 'form-actions' });
      var cancel = element('button', { type: 'button', 'class': 'btn' }, 'Cancel');
      var confirm = element('button', { type: 'button', 'class': 'btn danger', hidden: 'hidden' }, 'Send anyway');
      var submit = element('button', { type: 'submit', 'class': 'btn primary' }, 'Send reply');
      actions.appendChild(cancel);
      actions.appendChild(confirm);
      actions.appendChild(submit);
      form.appendChild(actions);
      slot.appendChild(form);

      function updateCounter() {
        var used = replyLength(info.network, textarea.value);
        counter.textContent = used + ' / ' + info.limit;
        counter.classList.toggle('over', used > info.limit);
      }
      textarea.addEventListener('input', function () {
        updateCounter();
        // Editing the text withdraws an earlier PII confirmation prompt.
        warning.hidden = true;
        confirm.hidden = true;
      });
      updateCounter();
      textarea.focus();
      textarea.setSelectionRange(textarea.value.length, textarea.value.length);

      cancel.addEventListener('click', function () { closeForm(card); });

      function send(confirmPii) {
        problem.hidden = true;
        submit.disabled = true;
        confirm.disabled = true;
        postAction({ payload: payload, text: textarea.value, confirm_pii: confirmPii }).then(function (result) {
          submit.disabled = false;
          confirm.disabled = false;
          var body = result.body || {};
          if (body.outcome === 'done') {
            closeForm(card);
            toast(body.notice || 'Reply sent.', false);
          } else if (body.outcome === 'confirm_pii') {
            warning.textContent = body.warning;
            warning.hidden = false;
            confirm.hidden = false;
          } else {
            problem.textContent = errorText(result);
            problem.hidden = false;
          }
        }, function () {
          submit.disabled = false;
          confirm.disabled = false;
          problem.textContent = 'The console server cannot be reached; your draft is still here.';
          problem.hidden = false;
        });
      }
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        send(false);
      });
      confirm.addEventListener('click', function () { send(true); });
    }, function (error) {
      toast('Cannot open the reply form: ' + error.message, true);
    });
  }

  function openEscalateForm(card, payload) {
    var slot = formSlot(card);
    getJson('/api/escalation-targets').then(function (targets) {
      slot.textContent = '';
      var form = element('form', { 'class': 'card-form escalate-form' });
      form.appendChild(element('h3', {}, 'Escalate'));
      var baseId = 'escalate-' + card.getAttribute('data-message-id');
      form.appendChild(element('label', { 'for': baseId + '-target' }, 'Escalate to'));
      var select = element('select', { id: baseId + '-target', name: 'target', required: 'required' });
      targets.forEach(function (target) {
        select.appendChild(element('option', { value: target.id }, target.label));
      });
      form.appendChild(select);
      form.appendChild(element('label', { 'for': baseId + '-note' }, 'Note for the team (internal)'));
      var note = element('textarea', { id: baseId + '-note', name: 'note' });
      form.appendChild(note);
      var problem = element('p', { 'class': 'form-error', hidden: 'hidden' });
      form.appendChild(problem);
      var actions = element('div', { 'class': 'form-actions' });
      var cancel = element('button', { type: 'button', 'class': 'btn' }, 'Cancel');
      var submit = element('button', { type: 'submit', 'class': 'btn primary' }, 'Escalate');
      actions.appendChild(cancel);
      actions.appendChild(submit);
      form.appendChild(actions);
      slot.appendChild(form);
      if (!targets.length) {
        problem.textContent = 'No escalation targets are configured.';
        problem.hidden = false;
        submit.disabled = true;
      }
      cancel.addEventListener('click', function () { closeForm(card); });
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        problem.hidden = true;
        submit.disabled = true;
        postAction({ payload: payload, target: select.value, note: note.value }).then(function (result) {
          submit.disabled = false;
          var body = result.body || {};
          if (body.outcome === 'done') {
            closeForm(card);
            toast(body.notice || 'Escalated.', false);
          } else {
            problem.textContent = errorText(result);
            problem.hidden = false;
          }
        }, function () {
          submit.disabled = false;
          problem.textContent = 'The console server cannot be reached.';
          problem.hidden = false;
        });
      });
    }, function (error) {
      toast('Cannot open the escalation form: ' + error.message, true);
    });
  }

  // Live updates: the server says which message changed; the page fetches just that card.

  function refreshCard(channel, messageId) {
    var url = '/fragments/' + encodeURIComponent(channel) + '/' + encodeURIComponent(messageId);
    return fetch(url, { credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('fragment failed with status ' + response.status);
      return response.text();
    }).then(function (html) {
      var template = document.createElement('template');
      template.innerHTML = html.trim();
      var fresh = template.content.firstElementChild;
      if (!fresh) return;
      var existing = document.getElementById(fresh.id);
      if (existing) {
        // An open form survives the swap so a half-typed reply is never lost.
        var oldSlot = formSlot(existing);
        var newSlot = formSlot(fresh);
        if (oldSlot && newSlot) {
          while (oldSlot.firstChild) newSlot.appendChild(oldSlot.firstChild);
        }
        existing.replaceWith(fresh);
      } else {
        cardsElement.insertBefore(fresh, cardsElement.firstChild);
        emptyElement.hidden = true;
        bumpCount(channel);
      }
      fresh.classList.add('flash');
    });
  }

  // The ops channel: connector-health notices (a source or chat failing, then working again),
  // the newest first, shown above the cards once there is one.

  function loadNotices() {
    return getJson('/api/notices').then(function (notices) {
      if (!Array.isArray(notices) || notices.length === 0) return;
      noticeListElement.replaceChildren();
      notices.slice(-NOTICES_SHOWN).reverse().forEach(function (notice) {
        var item = element('li', { class: 'notice' });
        var at = new Date(notice.at);
        item.appendChild(element('time', { datetime: notice.at }, isNaN(at) ? '' : at.toLocaleString()));
        item.appendChild(document.createTextNode(' ' + notice.text));
        noticeListElement.appendChild(item);
      });
      noticesElement.hidden = false;
    }).catch(function () {
      // Shown again with the next notice or a reload.
    });
  }

  // The weekly digest: the newest one (figures and chart) above the cards.
  function loadDigest() {
    return getJson('/api/digests').then(function (digests) {
      if (!Array.isArray(digests) || digests.length === 0) return;
      var latest = digests[digests.length - 1];
      document.getElementById('digest-title').textContent = latest.title + ' (#' + latest.channel + ')';
      document.getElementById('digest-text').textContent = latest.text;
      document.getElementById('digest-chart').setAttribute('src', latest.chart);
      document.getElementById('digest').hidden = false;
    }).catch(function () {
      // Shown again with the next digest or a reload.
    });
  }

  var hadError = false;
  function connectEvents() {
    if (!window.EventSource) return;
    var source = new EventSource('/events');
    source.addEventListener('message-changed', function (event) {
      var change;
      try {
        change = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (change.kind === 'notice') {
        loadNotices();
        return;
      }
      if (change.kind === 'digest') {
        loadDigest();
        return;
      }
      if (onSkipped) {
        // A case opened from this list (or anywhere): the list may say so now.
        if (change.kind === 'posted') bumpCount(change.channel);
        refreshSkipped();
      } else if (change.channel === currentChannel) {
        refreshCard(change.channel, change.message_id).catch(function () {
          // A failed fragment fetch is repaired by the next change or a reload.
        });
      } else if (change.kind === 'posted') {
        bumpCount(change.channel);
      }
    });
    source.addEventListener('resync', function () { resync(); });
    source.addEventListener('open', function () {
      if (hadError) {
        hadError = false;
        resync();
      }
    });
    source.addEventListener('error', function () { hadError = true; });
  }

  function resync() {
    // Changes may have been missed while disconnected; reload unless someone is typing.
    if (!document.querySelector('.card-form')) window.location.reload();
  }

  showAgent();
  updateBadges();
  loadNotices();
  loadDigest();
  if (!agentName()) askAgent();
  connectEvents();
})();
