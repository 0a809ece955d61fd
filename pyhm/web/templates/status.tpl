<section id="status">
  <h1>{{_("Status")}}</h1>
  <div class="card">
    <h2>{{_("Acquisition")}}</h2>
    % acq = data['acquisition']
    <p class="{{'ok' if acq.get('running') else 'error'}}">{{_("Running") if acq.get('running') else _("Not running")}}
    % if acq.get('last_commit'):
    · {{!_("last commit {time}").format(time='<time datetime="%s">%s</time>' % (escape(acq['last_commit']), escape(acq['last_commit'])))}}
    % end
    </p>
  </div>
  <div class="card">
    <h2>{{_("Read heads")}}</h2>
    % if not data['heads']:
    <p>{{_("No head has been seen yet.")}}</p>
    % else:
    % cols = [_("Head"), _("State"), _("Meter"), _("Frames ok (1 h)"), _("Bad (1 h)"), _("Bytes skipped (1 h)"), _("Bad message CRCs"), _("Last frame"), _("Last error")]
    % cols = [c.replace(" (1 h)", "\u00a0(1\u00a0h)") for c in cols]  # "(1 h)" never breaks apart
    <div class="scroll">
    <table class="heads">
      <thead><tr>
      % for i, col in enumerate(cols):
        <th scope="col"{{!' class="num"' if 3 <= i <= 6 else ''}}>{{col}}</th>
      % end
      </tr></thead>
      % for h in data['heads']:
      <tr><td data-label="{{cols[0]}}" translate="no">{{h['serial']}}<br><span class="muted small">{{h['device']}}</span></td><td data-label="{{cols[1]}}">{{_(h['state']) if h['present'] else _("unplugged")}}</td><td data-label="{{cols[2]}}" class="small wrap" translate="no">\\
% if h['meter_id'] is not None:
<a href="/meter/{{h['meter_id']}}">{{h['meter_label']}}</a>\\
% else:
{{h['meter'] or '–'}}\\
% end
</td>
        <td data-label="{{cols[3]}}" class="num" data-num="{{h['last_hour']['frames_ok']}}">{{h['last_hour']['frames_ok']}}</td><td data-label="{{cols[4]}}" class="num" data-num="{{h['last_hour']['frames_bad']}}">{{h['last_hour']['frames_bad']}}</td><td data-label="{{cols[5]}}" class="num" data-num="{{h['last_hour']['bytes_skipped']}}">{{h['last_hour']['bytes_skipped']}}</td><td data-label="{{cols[6]}}" class="num" data-num="{{h['messages_bad']}}">{{h['messages_bad']}}</td>
        <td data-label="{{cols[7]}}" class="small"><time datetime="{{h['last_frame'] or ''}}">{{h['last_frame'] or '–'}}</time></td><td data-label="{{cols[8]}}" class="small wrap" translate="no">{{h['last_error'] or ''}}</td></tr>
      % end
    </table>
    </div>
    % end
  </div>
  <div class="card">
    <h2>{{_("Database")}}</h2>
    % db = data['database']
    % if db:
    % size = '<span data-num="%s" data-digits="1">%s</span>' % (db['size_bytes'] / 1048576, db['size_bytes'])
    % rows = '<span data-num="%d" data-digits="0">%d</span>' % (db['telegrams_rows'], db['telegrams_rows'])
    % oldest = '<time datetime="%s">%s</time>' % (escape(db['oldest_raw'] or ''), escape(db['oldest_raw'] or '–'))
    <p class="wrap">{{!n_("{path}: {size} MiB, {rows} telegram since {time}, schema {schema}", "{path}: {size} MiB, {rows} telegrams since {time}, schema {schema}", db['telegrams_rows']).format(path='<span translate="no">%s</span>' % escape(db['path']), size=size, rows=rows, time=oldest, schema=db['schema_version'])}}</p>
    % else:
    <p>{{_("No database yet.")}}</p>
    % end
    % disk = data.get('disk')
    % if disk:
    <h3>{{_("Disk writes")}}</h3>
    <p id="disk-writes">
    % if disk['mib_per_day'] is not None:
    % mib = '<span data-num="%s" data-digits="1">%s</span>' % (disk['mib_per_day'], disk['mib_per_day'])
    % since = '<time datetime="%s">%s</time>' % (escape(disk['since']), escape(disk['since']))
    {{!_("The acquisition writes {mib} MiB a day (measured since {time}, committing every {seconds} s).").format(mib=mib, time=since, seconds='%g' % disk['commit_seconds'])}}
    % end
    {{_(advice[disk['advice_id']]).format(seconds='%g' % disk['commit_seconds'])}}</p>
    % end
  </div>
  <div class="card">
    <h2>{{_("Versions")}}</h2>
    <p class="small wrap" translate="no">{{', '.join(k + ' ' + v for k, v in data['versions'].items())}}</p>
  </div>
</section>
