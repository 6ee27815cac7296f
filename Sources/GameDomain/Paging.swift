/// Newest-first pages over a history kept oldest first, by a cursor: the position (a sequence
/// number that only grows) of the last item of the previous page.
public enum Paging {
    /// The items before `cursor` (all for nil), newest first, at most `limit` (clamped to
    /// 1...`pageMax`), and the next page's cursor — nil when nothing older is left.
    public static func newestFirst<Item>(
        _ items: [Item],
        position: (Item) -> UInt64,
        before cursor: UInt64?,
        limit: Int,
        pageMax: Int
    ) -> (items: [Item], next: UInt64?) {
        let limit = max(1, min(limit, pageMax))
        let older = items.reversed().filter { item in cursor.map { position(item) < $0 } ?? true }
        let page = Array(older.prefix(limit))
        return (page, older.count > limit ? page.last.map(position) : nil)
    }
}
