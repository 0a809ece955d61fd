<section id="meter" data-meter="{{meter['id']}}">
  <h1>{{meter['label']}}</h1>
  <p class="muted small">Server id {{meter['server_id']}}{{' · ' + meter['note'] if meter['note'] else ''}}</p>
  <div class="card">
    <div class="toolbar">
      <div class="presets" role="group" aria-label="Range">
        <button data-range="3600">1 h</button><button data-range="86400" class="on">24 h</button><button data-range="604800">7 d</button><button data-range="2592000">30 d</button><button data-range="31536000">1 y</button>
      </div>
      <label class="custom">from <input type="datetime-local" id="from"></label>
      <label class="custom">to <input type="datetime-local" id="to"></label>
      <button id="apply">Show</button>
      <button id="back" title="Earlier">◀</button><button id="fwd" title="Later">▶</button>
    </div>
    <fieldset class="series" id="series">
      <legend>Series</legend>
      % for s in meter['series']:
      % if s['kind'] != 'text':
      <label><input type="checkbox" value="{{s['obis']}}" data-kind="{{s['kind']}}" data-unit="{{s['unit'] or ''}}" {{'checked' if s['obis'] == '1-0:16.7.0*255' else ''}}> {{s['name'] or s['obis']}} <span class="muted">{{s['unit'] or ''}}</span></label>
      % end
      % end
    </fieldset>
    <div id="chart" class="chart" data-points="0"></div>
    <p class="muted small" id="chart-info"></p>
    <p class="small"><a id="csv" href="#">Download CSV</a> · <a id="json" href="#">JSON</a></p>
  </div>
  <div class="card">
    <div class="toolbar">
      <h2>Consumption</h2>
      <select id="period"><option value="day">per day</option><option value="week">per week</option><option value="month">per month</option><option value="year">per year</option></select>
      <select id="counter">
        % for s in meter['series']:
        % if s['kind'] == 'counter':
        <option value="{{s['obis']}}">{{s['name'] or s['obis']}}</option>
        % end
        % end
      </select>
    </div>
    <div id="bars" class="chart" data-bars="0"></div>
  </div>
  <div class="card">
    <h2>Latest values</h2>
    <table class="values">
      % for s in meter['series']:
      <tr><td>{{s['name'] or ''}}</td><td class="muted">{{s['obis']}}</td><td class="num">{{s['latest']['value'] if s['latest'] else '–'}}</td><td>{{s['unit'] or ''}}</td></tr>
      % end
    </table>
  </div>
</section>
