// Written for Plume: a best-effort key-to-line index, since TOMLKit exposes no source positions per key.
/// Best-effort map from a TOML key path to its 1-based source line.
/// Path syntax: components joined by ".", array-of-tables elements get "[i]",
/// e.g. "server.port", "node[1].address". Pure Swift, no Foundation.
struct TOMLLineIndex: Sendable {
    private(set) var lines: [String: Int] = [:]

    init(source: String) {
        var header = ""                       // resolved path of current [table] / [[aot]]
        var aotCount: [String: Int] = [:]     // resolved AoT path -> last index used
        var multiline: String? = nil          // closing delimiter while inside """ / '''
        var depth = 0                         // open [ / { of a value spanning lines
        for (i, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            var line = Substring(raw)
            if let delim = multiline {        // inside a multi-line string
                guard let r = line.firstRange(of: delim) else { continue }
                multiline = nil
                line = line[r.upperBound...]
                depth += Self.scanValue(line, &multiline)
                continue
            }
            if depth > 0 { depth += Self.scanValue(line, &multiline); continue }
            let t = Self.trim(line)
            if t.isEmpty || t.hasPrefix("#") { continue }
            if t.hasPrefix("[") {             // [table] or [[array.of.tables]]
                let isAoT = t.hasPrefix("[[")
                let open = isAoT ? 2 : 1
                guard let close = t.firstIndex(of: "]") else { continue }
                let comps = Self.splitKey(t[t.index(t.startIndex, offsetBy: open)..<close])
                var resolved = ""
                for (n, c) in comps.enumerated() {
                    let cand = resolved.isEmpty ? c : resolved + "." + c
                    if isAoT && n == comps.count - 1 {
                        let idx = (aotCount[cand] ?? -1) + 1
                        aotCount[cand] = idx
                        resolved = cand + "[\(idx)]"
                    } else if let idx = aotCount[cand] {
                        resolved = cand + "[\(idx)]"  // refers to latest element
                    } else {
                        resolved = cand
                    }
                }
                header = resolved
                if lines[header] == nil { lines[header] = lineNo }
                continue
            }
            guard let eq = Self.indexOfTopLevelEquals(t) else { continue }
            let key = Self.splitKey(t[..<eq]).joined(separator: ".")
            let path = header.isEmpty ? key : header + "." + key
            lines[path] = lineNo
            depth += Self.scanValue(t[t.index(after: eq)...], &multiline)
        }
    }

    /// Line of `path`, or of its longest recorded prefix (e.g. keys inside inline tables).
    func line(for path: String) -> Int? {
        var p = Substring(path)
        while true {
            if let l = lines[String(p)] { return l }
            guard let dot = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            p = p[..<dot]
        }
    }

    // MARK: helpers
    private static func trim(_ s: Substring) -> Substring {
        var s = s
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }

    /// Splits `a."b.c".d` into ["a", "b.c", "d"].
    private static func splitKey(_ s: Substring) -> [String] {
        var out: [String] = [], cur = "", quote: Character? = nil
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "." {
                out.append(String(trim(Substring(cur)))); cur = ""
            } else {
                cur.append(ch)
            }
        }
        out.append(String(trim(Substring(cur))))
        return out
    }

    private static func indexOfTopLevelEquals(_ s: Substring) -> Substring.Index? {
        var quote: Character? = nil
        var i = s.startIndex
        while i < s.endIndex {
            let ch = s[i]
            if let q = quote { if ch == q { quote = nil } }
            else if ch == "\"" || ch == "'" { quote = ch }
            else if ch == "=" { return i }
            i = s.index(after: i)
        }
        return nil
    }

    /// Returns net change of [ / { nesting in a value fragment; sets `multiline`
    /// if a """ or ''' string opens and does not close on this line.
    private static func scanValue(_ s: Substring, _ multiline: inout String?) -> Int {
        var delta = 0
        var i = s.startIndex
        while i < s.endIndex {
            let rest = s[i...]
            if rest.hasPrefix("\"\"\"") || rest.hasPrefix("'''") {
                let delim = String(rest.prefix(3))
                let after = s.index(i, offsetBy: 3)
                if let r = s[after...].firstRange(of: delim) { i = r.upperBound; continue }
                multiline = delim
                return delta
            }
            let ch = s[i]
            if ch == "#" { break }
            if ch == "\"" || ch == "'" {      // single-line string
                var j = s.index(after: i)
                while j < s.endIndex, s[j] != ch {
                    if ch == "\"" && s[j] == "\\" { j = s.index(after: j); if j == s.endIndex { break } }
                    j = s.index(after: j)
                }
                i = j < s.endIndex ? s.index(after: j) : j
                continue
            }
            if ch == "[" || ch == "{" { delta += 1 }
            if ch == "]" || ch == "}" { delta -= 1 }
            i = s.index(after: i)
        }
        return delta
    }
}
