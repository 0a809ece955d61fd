<section id="status">
  <h1>Status</h1>
  <div class="card">
    <h2>Acquisition</h2>
    % acq = data['acquisition']
    <p class="{{'ok' if acq.get('running') else 'error'}}">{{'Running' if acq.get('running') else 'Not running'}}{{', last commit ' + acq['last_commit'] if acq.get('last_commit') else ''}}</p>
  </div>
  <div class="card">
    <h2>Read heads</h2>
    % if not data['heads']:
    <p>No head has been seen yet.</p>
    % else:
    <table>
      <tr><th>Head</th><th>State</th><th>Meter</th><th class="num">Frames ok (1 h)</th><th class="num">Bad (1 h)</th><th class="num">Bytes skipped (1 h)</th><th>Last frame</th><th>Last error</th></tr>
      % for h in data['heads']:
      <tr><td>{{h['serial']}}<br><span class="muted small">{{h['device']}}</span></td><td>{{h['state'] if h['present'] else 'unplugged'}}</td><td class="small">{{h['meter'] or '–'}}</td>
        <td class="num">{{h['last_hour']['frames_ok']}}</td><td class="num">{{h['last_hour']['frames_bad']}}</td><td class="num">{{h['last_hour']['bytes_skipped']}}</td>
        <td class="small">{{h['last_frame'] or '–'}}</td><td class="small">{{h['last_error'] or ''}}</td></tr>
      % end
    </table>
    % end
  </div>
  <div class="card">
    <h2>Database</h2>
    % db = data['database']
    % if db:
    <p>{{db['path']}}: {{fmt(db['size_bytes'] / 1048576, 1)}} MiB, {{fmt(db['telegrams_rows'])}} telegrams since {{db['oldest_raw'] or '–'}}, schema {{db['schema_version']}}</p>
    % else:
    <p>No database yet.</p>
    % end
  </div>
  <div class="card">
    <h2>Versions</h2>
    <p class="small">{{', '.join(k + ' ' + v for k, v in data['versions'].items())}}</p>
  </div>
</section>
