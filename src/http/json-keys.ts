/**
 * The first key that appears twice in one object of a valid JSON text, or null.
 * JSON.parse keeps the last of duplicate keys silently; SPEC §9 wants a
 * parameter given twice refused, in a JSON body as in a form. Keys are compared
 * decoded, so `"a"` and `"\u0061"` are the same key.
 */
export function duplicateKey(text: string): string | null {
  const objects: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      objects.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      objects.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      objects.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = objects[objects.length - 1] instanceof Set;
    }
  }
  return null;
}
