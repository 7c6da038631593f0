package genai

import (
	"iter"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

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

// listPresence is the presence of a list made of one part list per item
// of items, each of presence of(item): orContent over all of them,
// stopping at the first that has some.
func listPresence(items iter.Seq[jsontape.Value], of func(jsontape.Value) Content) Content {
	c := ContentNone
	for it := range items {
		if c = orContent(c, of(it)); c == ContentSome {
			break
		}
	}
	return c
}

// objectsOnly is of for objects and ContentNone for anything else (the
// mirrored functions skip items that are not objects).
func objectsOnly(of func(jsontape.Value) Content) func(jsontape.Value) Content {
	return func(v jsontape.Value) Content {
		if !v.IsObject() {
			return ContentNone
		}
		return of(v)
	}
}

// contentPresence mirrors parseContent.
func contentPresence(v jsontape.Value) Content {
	switch {
	case v.Kind() == jsontape.String:
		return ContentSome
	case !v.IsArray():
		return ContentNone
	}
	return listPresence(v.Elements(), blockPresence)
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
	return listPresence(ms.Elements(), objectsOnly(chatMessagePresence))
}

// choicesPresence mirrors the making of the output messages of a Chat
// Completions (or Completions) reply from its choices in fromBody.
func choicesPresence(choices jsontape.Value) Content {
	return listPresence(each(choices), objectsOnly(choicePresence))
}

// choicePresence is the presence of the output message of one choice.
func choicePresence(ch jsontape.Value) Content {
	var text, message jsontape.Value
	for k, v := range ch.Members() {
		switch k {
		case "text":
			text = v
		case "message":
			message = v
		}
	}
	if text.Kind() == jsontape.String {
		return ContentSome
	}
	return chatMessagePresence(message)
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
	return listPresence(each(v), converseBlockPresence)
}

// converseMessagesPresence mirrors converseMessages.
func converseMessagesPresence(v jsontape.Value) Content {
	return listPresence(v.Elements(), objectsOnly(func(m jsontape.Value) Content {
		return converseBlocksPresence(m.Get("content"))
	}))
}
