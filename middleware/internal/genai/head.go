package genai

import "github.com/otelaudit/otelaudit-go/internal/jsontape"

// The presence checks of the head parses ([ParseRequestInto],
// [ParseResponseInto]). Each mirrors the function that makes the list,
// named in its comment, reading the same members the same way (the last
// of a repeated key where that function walks Members, the first where
// it uses Get), and says ContentMade where it cannot tell without making
// the list. FuzzParseRequest and FuzzParseResponse check every answer
// against the list the full parse makes.

// headOf is c for a head parse, ContentMade (make the list) otherwise.
func headOf(head bool, c Content) Content {
	if !head {
		return ContentMade
	}
	return c
}

// orContent is the presence of a list made of two lists of presence a and
// b: some when either has some, none when both have none, else unknown
// (ContentMade).
func orContent(a, b Content) Content {
	switch {
	case a == ContentSome || b == ContentSome:
		return ContentSome
	case a == ContentNone && b == ContentNone:
		return ContentNone
	}
	return ContentMade
}

// contentPresence mirrors parseContent.
func contentPresence(v jsontape.Value) Content {
	switch {
	case v.Kind() == jsontape.String:
		return ContentSome
	case !v.IsArray():
		return ContentNone
	}
	c := ContentNone
	for it := range v.Elements() {
		if c = orContent(c, blockPresence(it)); c == ContentSome {
			break
		}
	}
	return c
}

// blockPresence mirrors parseBlock for bare strings and text blocks; any
// other object is unknown.
func blockPresence(it jsontape.Value) Content {
	switch {
	case it.Kind() == jsontape.String:
		return ContentSome
	case !it.IsObject():
		return ContentNone
	}
	switch str(it.Get("type")) {
	case "text", "input_text", "output_text", "":
		if it.Get("text").Kind() == jsontape.String {
			return ContentSome
		}
	}
	return ContentMade
}

// chatMessagePresence mirrors chatMessage: a content with a part gives the
// message a part (a tool message's content is one tool_call_response part
// whatever it holds); without one, refusals and tool calls may still give
// parts, so it cannot tell.
func chatMessagePresence(m jsontape.Value) Content {
	var content jsontape.Value
	for k, v := range m.Members() {
		if k == "content" {
			content = v
		}
	}
	if contentPresence(content) == ContentSome {
		return ContentSome
	}
	return ContentMade
}

// chatMessagesPresence mirrors chatMessages.
func chatMessagesPresence(ms jsontape.Value) Content {
	c := ContentNone
	for m := range ms.Elements() {
		if !m.IsObject() {
			continue
		}
		if c = orContent(c, chatMessagePresence(m)); c == ContentSome {
			break
		}
	}
	return c
}

// choicesPresence mirrors the making of the output messages of a Chat
// Completions (or Completions) reply from its choices in fromBody.
func choicesPresence(choices jsontape.Value) Content {
	c := ContentNone
	for ch := range each(choices) {
		if !ch.IsObject() {
			continue
		}
		var text, message jsontape.Value
		for k, v := range ch.Members() {
			switch k {
			case "text":
				text = v
			case "message":
				message = v
			}
		}
		p := ContentSome
		if text.Kind() != jsontape.String {
			p = chatMessagePresence(message)
		}
		if c = orContent(c, p); c == ContentSome {
			break
		}
	}
	return c
}

// geminiPartsPresence mirrors geminiParts: every object is a part.
func geminiPartsPresence(v jsontape.Value) Content {
	for p := range each(v) {
		if p.IsObject() {
			return ContentSome
		}
	}
	return ContentNone
}

// geminiContentsPresence mirrors geminiContents.
func geminiContentsPresence(v jsontape.Value) Content {
	switch {
	case v.Kind() == jsontape.String:
		return ContentSome
	case v.IsObject():
		return geminiPartsPresence(v.Get("parts"))
	}
	for c := range v.Elements() {
		if c.IsObject() && geminiPartsPresence(c.Get("parts")) == ContentSome {
			return ContentSome
		}
	}
	return ContentNone
}

// geminiSystemPresence mirrors the making of System in geminiRequest from
// systemInstruction si.
func geminiSystemPresence(si jsontape.Value) Content {
	switch {
	case si.IsObject():
		return geminiPartsPresence(si.Get("parts"))
	case si.Kind() == jsontape.String:
		return ContentSome
	}
	return ContentNone
}

// converseBlockPresence mirrors converseBlock.
func converseBlockPresence(b jsontape.Value) Content {
	if !b.IsObject() || b.Get("type").Kind() == jsontape.String {
		return blockPresence(b)
	}
	for k := range b.Members() {
		if k == "cachePoint" {
			return ContentNone
		}
		return ContentSome
	}
	return ContentNone
}

// converseBlocksPresence mirrors converseBlocks.
func converseBlocksPresence(v jsontape.Value) Content {
	if v.Kind() == jsontape.String {
		return ContentSome
	}
	c := ContentNone
	for b := range each(v) {
		if c = orContent(c, converseBlockPresence(b)); c == ContentSome {
			break
		}
	}
	return c
}

// converseMessagesPresence mirrors converseMessages.
func converseMessagesPresence(v jsontape.Value) Content {
	c := ContentNone
	for m := range v.Elements() {
		if !m.IsObject() {
			continue
		}
		if c = orContent(c, converseBlocksPresence(m.Get("content"))); c == ContentSome {
			break
		}
	}
	return c
}
