<section id="meter" data-meter="{{meter['id']}}" data-last="{{meter['last_seen'] or ''}}" data-age="{{'' if meter['age_s'] is None else meter['age_s']}}">
  <h1 translate="no">{{meter['label']}}</h1>
  <p class="muted small wrap">{{!_("Server id {id}").format(id='<span translate="no">%s</span>' % escape(meter['server_id']))}}{{!' · <span translate="no">%s</span>' % escape(meter['note']) if meter['note'] else ''}}</p>
  <p class="stale-note" data-field="stale" role="status" hidden></p>
  <div class="card">
    <div class="toolbar">
      <div class="presets" role="group" aria-label="{{_("Range")}}">
        <button type="button" data-range="3600" aria-pressed="false">1 h</button><button type="button" data-range="86400" aria-pressed="true">24 h</button><button type="button" data-range="604800" aria-pressed="false">{{_("7 d")}}</button><button type="button" data-range="2592000" aria-pressed="false">{{_("30 d")}}</button><button type="button" data-range="31536000" aria-pressed="false">{{_("1 y")}}</button>
      </div>
      <div class="steps"><button type="button" id="back" aria-label="{{_("Earlier")}}">◀</button><button type="button" id="fwd" aria-label="{{_("Later")}}">▶</button></div>
      <form class="custom" id="custom" novalidate>
        <label>{{_("from")}} <input type="text" id="from" inputmode="numeric" autocomplete="off" spellcheck="false" aria-describedby="range-error"></label>
        <label>{{_("to")}} <input type="text" id="to" inputmode="numeric" autocomplete="off" spellcheck="false" aria-describedby="range-error"></label>
        <button type="submit" id="apply">{{_("Show")}}</button>
        <p class="range-error" id="range-error" role="alert" hidden></p>
      </form>
    </div>
    <fieldset class="series" id="series">
      <legend>{{_("Series")}}</legend>
      % for s in meter['series']:
      % if s['kind'] != 'text':
      <label><input type="checkbox" value="{{s['obis']}}" data-kind="{{s['kind']}}" data-unit="{{s['unit'] or ''}}" {{'checked' if s['obis'] == '1-0:16.7.0*255' else ''}}> <span class="swatch" aria-hidden="true"></span><span class="name">{{series_name(s['name']) or s['obis']}}</span> <span class="muted">{{s['unit'] or ''}}</span></label>
      % end
      % end
    </fieldset>
    <div id="chart" class="chart" data-points="0" role="img" aria-label="{{_("Chart of the ticked series; the same data is in the table below")}}"></div>
    <p class="muted small" id="chart-info"></p>
    <details id="chart-data"><summary>{{_("The chart's data as a table")}}</summary><div class="scroll"><table id="chart-table"></table></div></details>
    <p class="small" id="downloads" hidden></p>
  </div>
  <div class="card">
    <div class="toolbar">
      <h2>{{_("Consumption")}}</h2>
      <label>{{_("Per")}} <select id="period"><option value="day">{{_("day")}}</option><option value="week">{{_("week")}}</option><option value="month">{{_("month")}}</option><option value="year">{{_("year")}}</option></select></label>
      <label>{{_("Counter")}} <select id="counter">
        % for s in meter['series']:
        % if s['kind'] == 'counter':
        <option value="{{s['obis']}}">{{series_name(s['name']) or s['obis']}}</option>
        % end
        % end
      </select></label>
    </div>
    <div id="bars" class="chart" data-bars="0" role="img" aria-label="{{_("Consumption bars; the same data is in the table below")}}"></div>
    <details id="bars-data"><summary>{{_("The consumption as a table")}}</summary><div class="scroll"><table id="bars-table"></table></div></details>
  </div>
  <div class="card">
    <h2>{{_("Latest values")}}</h2>
    <div class="scroll">
    <table class="values">
      % for s in meter['series']:
      % v = s['latest']['value'] if s['latest'] else None
      <tr><td>{{series_name(s['name']) or ''}}<br><span class="muted small" translate="no">{{s['obis']}}</span></td>
        % if s['kind'] == 'text' or v is None:
        <td class="num text" translate="no">{{v if v is not None else '–'}}</td>
        % else:
        <td class="num value" data-latest="{{s['obis']}}" data-num="{{v}}">{{v}}</td>
        % end
        <td>{{s['unit'] or ''}}</td></tr>
      % end
    </table>
    </div>
  </div>
</section>
