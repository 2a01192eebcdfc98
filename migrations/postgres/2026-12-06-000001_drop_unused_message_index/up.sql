-- Nothing reads messages by creation time (history pages by seq, through
-- messages_room_seq_key): the index only cost every stored message a write.
DROP INDEX messages_room_created_idx;
