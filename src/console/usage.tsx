/** What GitLab was asked, as a task's and a snapshot's rows show it. */

/** Bytes as people read them. */
export function bytes(count: number): string {
  if (count < 1024) return `${count} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = count / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Each account's login with the requests it made. */
export function RequestsByAccount({ uses }: { uses: { login: string; requests: number }[] }) {
  return (
    <ul className="plain">
      {uses.map((use) => (
        <li key={use.login}>
          {use.login}: {use.requests}
        </li>
      ))}
    </ul>
  );
}
